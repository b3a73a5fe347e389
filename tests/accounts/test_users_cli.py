"""`python -m core users ...` and `--as USER`: passwords come from a prompt or stdin (never an argument), owners
manage accounts, and in team mode the CLI acts as an active account or refuses."""

from __future__ import annotations

import io
import json
import sys

import pytest

from core.accounts.manage import check_password
from core.cli import build_parser, main
from core.store import Store

PASSWORD = "correct horse battery"


def run(capsys: pytest.CaptureFixture[str], *args: str, stdin: str = "") -> tuple[int, str, str]:
    sys.stdin = io.StringIO(stdin)  # not a terminal: the password is read from standard input
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def ok(capsys: pytest.CaptureFixture[str], *args: str, stdin: str = "") -> str:
    code, out, err = run(capsys, *args, stdin=stdin)
    assert code == 0, err
    assert err == ""
    return out


@pytest.fixture(autouse=True)
def _keep_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", sys.stdin)  # restored after each test


def _add(capsys: pytest.CaptureFixture[str], name: str, role: str, *extra: str, password: str = PASSWORD) -> str:
    return ok(capsys, *extra, "users", "add", name, "--role", role, stdin=password + "\n")


def test_add_reads_the_password_from_stdin_and_list_json(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    out = ok(
        capsys,
        "users",
        "add",
        "anna",
        "--role",
        "owner",
        "--display-name",
        "Anna K",
        "--email",
        "anna@example.org",
        "--json",
        stdin=PASSWORD + "\n",
    )
    added = json.loads(out)
    assert (added["username"], added["display_name"], added["role"], added["active"]) == (
        "anna",
        "Anna K",
        "owner",
        True,
    )
    assert PASSWORD not in out
    assert check_password(store, "anna", PASSWORD) is not None

    _add(capsys, "bob", "lead", "--as", "anna")
    listed = json.loads(ok(capsys, "--as", "anna", "users", "list", "--json"))
    assert [a["username"] for a in listed] == ["anna", "bob"]
    for account in listed:
        assert {"username", "display_name", "role", "active", "created_at", "last_sign_in_at"} <= set(account)
        assert not any("password" in key or "hash" in key for key in account)
    assert listed[1]["role"] == "lead" and listed[1]["last_sign_in_at"] is None
    assert listed[1]["created_by"] == "anna"
    table = ok(capsys, "--as", "anna", "users", "list")
    assert "bob" in table and "never" in table


def test_set_role_deactivate_and_reset_password(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    _add(capsys, "anna", "owner")
    _add(capsys, "bob", "annotator", "--as", "anna")
    assert "bob is now lead" in ok(capsys, "--as", "anna", "users", "set-role", "bob", "lead")
    new_password = "a brand new password"
    assert "changed" in ok(capsys, "--as", "anna", "users", "reset-password", "bob", stdin=new_password + "\n")
    assert check_password(store, "bob", new_password) is not None
    assert check_password(store, "bob", PASSWORD) is None
    assert "deactivated" in ok(capsys, "--as", "anna", "users", "deactivate", "bob")
    [bob] = [a for a in json.loads(ok(capsys, "--as", "anna", "users", "list", "--json")) if a["username"] == "bob"]
    assert (bob["role"], bob["active"]) == ("lead", False)

    code, _, err = run(capsys, "--as", "bob", "projects")
    assert code == 1 and err.startswith("error: permission denied") and "deactivated" in err


def test_no_password_argument_exists(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["users", "add", "anna", "--role", "owner"], ["users", "reset-password", "anna"]):
        with pytest.raises(SystemExit) as exited:
            build_parser().parse_args([*command, "--password", PASSWORD])
        assert exited.value.code == 2
        capsys.readouterr()
        with pytest.raises(SystemExit):
            main([*command, "--help"])
        assert "--password" not in capsys.readouterr().out


def test_a_missing_or_short_password_is_refused(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "users", "add", "anna", "--role", "owner", stdin="")
    assert code == 1 and "No password was given" in err
    code, _, err = run(capsys, "users", "add", "anna", "--role", "owner", stdin="short\n")
    assert code == 1 and "too short" in err
    code, _, err = run(capsys, "users", "add", "Anna Smith", "--role", "owner", stdin=PASSWORD + "\n")
    assert code == 1 and "username" in err
    assert json.loads(ok(capsys, "users", "list", "--json")) == []


def test_the_first_account_must_be_an_owner(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "users", "add", "bob", "--role", "lead", stdin=PASSWORD + "\n")
    assert code == 1 and "first account must be an owner" in err
    assert "No accounts yet" in ok(capsys, "users", "list")


def test_as_in_team_mode(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    _add(capsys, "anna", "owner")
    _add(capsys, "bob", "lead", "--as", "anna")

    code, _, err = run(capsys, "--as", "nobody", "projects")
    assert code == 1
    assert err.strip().splitlines() == [err.strip()]
    assert err.startswith("error: permission denied") and "no account named 'nobody'" in err

    code, _, err = run(capsys, "projects")  # STUDIO_USER=tester has no account either
    assert code == 1 and "no account named 'tester'" in err

    code, _, err = run(capsys, "--as", "bob", "users", "add", "cleo", "--role", "viewer", stdin=PASSWORD + "\n")
    assert code == 1 and "needs the role owner; bob is a lead" in err
    assert "No projects yet" in ok(capsys, "--as", "bob", "projects")


def test_personal_mode_acts_as_anyone_named(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    ok(capsys, "--as", "somebody", "init", "--project", "crops", "--labels", "a,b", "--languages", "en")
    [project] = json.loads(ok(capsys, "projects", "--json"))
    assert project["created_by"] == "somebody"
