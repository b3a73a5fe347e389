"""`python -m core audit`: the action log narrowed by project, user and days, as CSV or JSONL on standard output or
in a file only its owner reads; owners only in team mode, and a badly written day is told in words."""

from __future__ import annotations

import csv
import io
import json
import stat
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from core.cli import main
from core.front.accounts import add_account
from core.front.actor import Actor
from core.front.projects import create_project, parse_spec, remove_project
from core.store import Store
from core.store.schema import ActionRow

PASSWORD = "a long enough password"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def logged(store: Store) -> dict[str, int]:
    """olga (owner) and lena (lead) each create a project; olga deletes a third one."""
    add_account(Actor.of(store), "olga", "owner", PASSWORD, display_name="Olga Owner")
    olga = Actor(store, "olga", "owner", team=True)
    add_account(olga, "lena", "lead", PASSWORD, display_name="Lena Lead")
    lena = Actor(store, "lena", "lead", team=True)
    spec = {"labels": [{"name": "weather"}], "languages": [{"code": "en"}]}
    crops = create_project(olga, parse_spec(name="crops", **spec))
    reviews = create_project(lena, parse_spec(name="=reviews", **spec))
    gone = create_project(olga, parse_spec(name="old trial", **spec))
    remove_project(olga, gone.id)
    return {"crops": crops.id, "reviews": reviews.id, "gone": gone.id}


def _jsonl(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines()]


def test_audit_narrows_by_project_user_and_days(
    logged: dict[str, int], store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--as", "olga", "audit", "--format", "jsonl")
    assert (code, err) == (0, "")
    everything = [(e["username"], e["action"]) for e in _jsonl(out)]
    assert [entry for entry in everything if entry[1].startswith("project.")] == [
        ("olga", "project.delete"),
        ("olga", "project.create"),
        ("lena", "project.create"),
        ("olga", "project.create"),
    ]
    # account changes are audited too; whoever creates a project becomes its member
    assert {entry for entry in everything if not entry[1].startswith("project.")} == {
        ("tester", "account.add"),  # the first owner, added from the server's shell
        ("olga", "account.add"),
        ("olga", "member.add"),
        ("lena", "member.add"),
    }

    code, out, err = run(capsys, "--as", "olga", "audit", "--project", "crops", "--format", "jsonl")
    assert [(e["project"], e["action"], e["display_name"]) for e in _jsonl(out)] == [
        ("crops", "member.add", "Olga Owner"),
        ("crops", "project.create", "Olga Owner"),
    ]
    # a deleted project, by the id it had
    code, out, err = run(capsys, "--as", "olga", "audit", "--project", str(logged["gone"]), "--format", "jsonl")
    assert {e["project"] for e in _jsonl(out)} == {"old trial (deleted)"}

    code, out, err = run(capsys, "--as", "olga", "audit", "--user", "lena")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["username"], r["project"]) for r in rows] == [("lena", "'=reviews")] * 2  # formula-escaped

    with store.session() as session:  # lena's entry happened on 2025-02-01 (UTC)
        session.execute(update(ActionRow).where(ActionRow.who == "lena").values(at=datetime(2025, 2, 1, 12)))
    for since, until, expected in [("2025-02-01", "2025-02-01", 2), ("2025-02-02", None, 0), (None, "2025-01-31", 0)]:
        args = ["--as", "olga", "audit", "--user", "lena", "--format", "jsonl"]
        args += ["--since", since] if since else []
        args += ["--until", until] if until else []
        code, out, err = run(capsys, *args)
        assert (code, len(out.splitlines())) == (0, expected), (since, until)


def test_audit_writes_a_private_file(
    logged: dict[str, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "reports" / "audit.csv"
    code, out, err = run(capsys, "--as", "olga", "audit", "--output", str(target))
    assert (code, err) == (0, "")
    assert out == f"Wrote 9 audit log entries to {target}\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert len(rows) == 9 and rows[0]["action"] == "project.delete"
    assert PASSWORD not in target.read_text(encoding="utf-8")


def test_audit_is_for_owners_and_says_what_is_wrong(logged: dict[str, int], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--as", "lena", "audit")
    assert (code, out) == (1, "")
    assert err == "error: permission denied: reading the audit log needs the role owner; lena is a lead\n"

    code, out, err = run(capsys, "--as", "olga", "audit", "--since", "31/01/2025")
    assert code == 1
    assert err == ("error: --since takes a day written YYYY-MM-DD (for example 2025-03-31), not '31/01/2025'.\n")
    code, out, err = run(capsys, "--as", "olga", "audit", "--since", "2025-03-02", "--until", "2025-03-01")
    assert code == 1 and "The first day (2025-03-02) is after the last day (2025-03-01)" in err
    code, out, err = run(capsys, "--as", "olga", "audit", "--project", "no such project")
    assert code == 1 and "no such project" in err
