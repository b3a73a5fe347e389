"""The audit (issue 17, item 8) on SQLite and PostgreSQL: owners narrow the action log by person, project and UTC
days, see display names and project names (a deleted project's too), and take it away as CSV (formula-escaped) or
JSONL (a faithful round trip); secrets never come out, and no other role may read it."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date, datetime

import pytest
from sqlalchemy import update

from core.errors import InvalidInput, PermissionDenied
from core.front.accounts import add_account
from core.front.actor import Actor
from core.front.audit import (
    AuditFilter,
    audit_file,
    audit_people,
    audit_projects,
    read_audit_log,
)
from core.front.projects import Project, ProjectSpec, create_project, parse_spec, remove_project, update_project
from core.io.audit_export import AUDIT_COLUMNS, audit_record
from core.store import Store, action_log
from core.store.action_log import ActionQuery, count_actions, find_actions, iter_actions
from core.store.schema import ActionRow

PASSWORD = "a long enough password"
FORMULA = '=HYPERLINK("http://evil.example","click")'
ENV_SECRET = "sk-from-the-environment-123456"


@dataclass
class Team:
    olga: Actor
    lena: Actor
    anna: Actor
    crops: Project
    reviews: Project
    gone_id: int


def _spec(name: str) -> ProjectSpec:
    return parse_spec(name=name, labels=[{"name": "weather"}, {"name": "pests"}], languages=[{"code": "en"}])


def _backdate(store: Store, action_id: int, at: datetime) -> None:
    with store.session() as session:
        session.execute(update(ActionRow).where(ActionRow.id == action_id).values(at=at))


@pytest.fixture
def team(store: Store, monkeypatch: pytest.MonkeyPatch) -> Team:
    monkeypatch.setenv("OPENAI_API_KEY", ENV_SECRET)
    add_account(Actor.of(store), "olga", "owner", PASSWORD, display_name="Olga Owner")
    olga = Actor(store, "olga", "owner", team=True)
    add_account(olga, "lena", "lead", PASSWORD, display_name="Lena Lead")
    add_account(olga, "anna", "annotator", PASSWORD, display_name="Anna Annotator")
    lena = Actor(store, "lena", "lead", team=True)
    anna = Actor(store, "anna", "annotator", team=True)
    crops = create_project(olga, _spec("crops"))
    reviews = create_project(lena, _spec("reviews"))
    update_project(lena, reviews.id, parse_spec(name="reviews", task="Is the review kind?",
                                                labels=[{"name": "weather"}, {"name": "pests"}],
                                                languages=[{"code": "en"}]))  # fmt: skip
    gone = create_project(olga, _spec("old trial"))
    remove_project(olga, gone.id)
    action_log.log_action(
        anna.store,
        action="note",
        project_id=crops.id,
        target="sample:1",
        before={"text": "plain"},
        after={"text": FORMULA, "api_key": "sk-typed-by-mistake-999", "note": f"key {ENV_SECRET} pasted"},
    )
    return Team(olga, lena, anna, crops, reviews, gone.id)


def test_the_log_narrows_by_person_and_project(team: Team) -> None:
    everything = read_audit_log(team.olga, AuditFilter())
    assert everything.total == len(everything.entries) >= 6
    assert [e.id for e in everything.entries] == sorted((e.id for e in everything.entries), reverse=True)

    by_lena = read_audit_log(team.olga, AuditFilter(username="lena"))
    # whoever creates a project becomes its member: that is logged too
    assert [e.action for e in by_lena.entries] == ["project.update", "member.add", "project.create"]
    assert {(e.username, e.display_name, e.who) for e in by_lena.entries} == {("lena", "Lena Lead", "Lena Lead (lena)")}
    assert {e.project for e in by_lena.entries} == {"reviews"}
    assert by_lena.entries[0].details == "task: (empty) → Is the review kind?"  # only what changed
    assert by_lena.entries[2].details.startswith("name: reviews; task: (empty); labels: weather, pests;")

    in_crops = read_audit_log(team.olga, AuditFilter(project_id=team.crops.id))
    assert [(e.username, e.action) for e in in_crops.entries] == [
        ("anna", "note"),
        ("olga", "member.add"),
        ("olga", "project.create"),
    ]
    assert read_audit_log(team.olga, AuditFilter(username="lena", project_id=team.crops.id)).total == 0

    deleted = read_audit_log(team.olga, AuditFilter(project_id=team.gone_id))
    assert [e.action for e in deleted.entries] == ["project.delete", "member.add", "project.create"]
    assert {e.project for e in deleted.entries} == {"old trial (deleted)"}
    assert deleted.entries[0].details.startswith("before: name: old trial")


def test_the_log_narrows_by_utc_days_both_included(team: Team, store: Store) -> None:
    first, second, third = sorted(e.id for e in read_audit_log(team.olga, AuditFilter(username="olga")).entries)[:3]
    _backdate(store, first, datetime(2025, 1, 10, 23, 59, 59))
    _backdate(store, second, datetime(2025, 1, 11, 0, 0, 0))
    _backdate(store, third, datetime(2025, 1, 12, 23, 59, 59))

    def ids(since: date | None, until: date | None) -> list[int]:
        page = read_audit_log(team.olga, AuditFilter(username="olga", since=since, until=until))
        return sorted(e.id for e in page.entries)

    assert ids(date(2025, 1, 11), date(2025, 1, 11)) == [second]
    assert ids(None, date(2025, 1, 10)) == [first]
    assert ids(date(2025, 1, 11), date(2025, 1, 12)) == [second, third]
    assert ids(date(2025, 1, 13), date(2025, 1, 31)) == []
    assert first not in ids(date(2025, 1, 11), None) and third in ids(date(2025, 1, 11), None)
    with pytest.raises(InvalidInput, match=r"The first day \(2025-01-12\) is after the last day \(2025-01-11\)"):
        read_audit_log(team.olga, AuditFilter(since=date(2025, 1, 12), until=date(2025, 1, 11)))


def test_a_page_holds_the_newest_entries_and_says_how_many_match(team: Team, store: Store) -> None:
    page = read_audit_log(team.olga, AuditFilter(), limit=2)
    everything = find_actions(store, ActionQuery())
    assert page.total == len(everything) == count_actions(store, ActionQuery())
    assert [e.id for e in page.entries] == [a.id for a in everything[:2]]
    # an export reads the log in chunks: the same rows, in the same order
    assert [a.id for a in iter_actions(store, ActionQuery(), chunk=2)] == [a.id for a in everything]
    assert [a.id for a in iter_actions(store, ActionQuery(who="lena"), chunk=1)] == [
        a.id for a in find_actions(store, ActionQuery(who="lena"))
    ]


def test_people_and_projects_to_narrow_to(team: Team, store: Store) -> None:
    people = {p.username: p for p in audit_people(team.olga)}
    assert set(people) == {"olga", "lena", "anna", "tester"}  # tester: the server's login, who added olga
    action_log.log_action(store, action="studio.demo")  # by the server's login, which has no account
    people = {p.username: p for p in audit_people(team.olga)}
    assert (people["tester"].label, people["tester"].has_account) == ("tester", False)
    assert people["lena"].label == "Lena Lead (lena)" and people["lena"].has_account
    projects = audit_projects(team.olga)
    assert [p.label for p in projects] == ["crops", "reviews", "old trial (deleted)"]


def test_secrets_never_come_out(team: Team) -> None:
    [note] = read_audit_log(team.olga, AuditFilter(username="anna")).entries
    assert note.after is not None and note.after["api_key"] == "[secret]"
    assert note.after["note"] == "key [secret] pasted"
    assert "sk-typed-by-mistake-999" not in note.details and ENV_SECRET not in note.details
    for fmt in ("csv", "jsonl"):
        data = audit_file(team.olga, AuditFilter(), fmt).data.decode("utf-8")
        assert "sk-typed-by-mistake-999" not in data and ENV_SECRET not in data
        assert PASSWORD not in data and "argon2" not in data


def test_the_csv_escapes_formulas(team: Team) -> None:
    file = audit_file(team.olga, AuditFilter(username="anna"), "csv")
    assert file.file_name.startswith("audit-log-") and file.file_name.endswith(".csv")
    assert file.mime == "text/csv" and file.entries == 1
    rows = list(csv.DictReader(io.StringIO(file.data.decode("utf-8"))))
    assert list(rows[0]) == list(AUDIT_COLUMNS)
    [row] = rows
    assert row["username"] == "anna" and row["display_name"] == "Anna Annotator" and row["project"] == "crops"
    assert row["details"].startswith("text: plain → =HYPERLINK")  # the cell starts with "text", not a formula
    after = row["after"]
    assert after.startswith("{")  # a JSON text: not a formula either
    assert json.loads(after)["text"] == FORMULA
    for cell in (value for row in rows for value in row.values()):
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_a_cell_starting_with_a_formula_gets_an_apostrophe(team: Team, store: Store) -> None:
    action_log.log_action(store.acting_as("anna"), action="=cmd|' /C calc'!A0", target="-2+3")
    file = audit_file(team.olga, AuditFilter(username="anna"), "csv")
    row = next(csv.DictReader(io.StringIO(file.data.decode("utf-8"))))
    assert (row["action"], row["target"]) == ("'=cmd|' /C calc'!A0", "'-2+3")


def test_the_jsonl_round_trips(team: Team) -> None:
    file = audit_file(team.olga, AuditFilter(), "jsonl")
    lines = file.data.decode("utf-8").splitlines()
    entries = read_audit_log(team.olga, AuditFilter()).entries
    assert file.entries == len(lines) == len(entries)
    parsed = [json.loads(line) for line in lines]
    assert parsed == [audit_record(entry) for entry in entries]
    note = next(p for p in parsed if p["action"] == "note")
    assert note["after"]["text"] == FORMULA  # as stored: JSON needs no escaping
    assert datetime.fromisoformat(note["at"]) == next(e.at for e in entries if e.action == "note")


def test_only_owners_read_the_log(team: Team) -> None:
    for actor in (team.lena, team.anna):
        with pytest.raises(PermissionDenied, match="reading the audit log needs the role owner"):
            read_audit_log(actor, AuditFilter())
        with pytest.raises(PermissionDenied):
            audit_file(actor, AuditFilter(), "csv")
    with pytest.raises(InvalidInput, match="'xlsx' is not an audit file format"):
        audit_file(team.olga, AuditFilter(), "xlsx")
