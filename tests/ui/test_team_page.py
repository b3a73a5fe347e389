"""The Team page (AppTest, real SQLite): owners manage accounts and project members through core (the last-owner
rule's refusal shows as an error and the form keeps what was typed), everyone else reads the team without any form,
personal mode creates the first owner (and the next run asks to sign in), and owners narrow the audit log."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import update
from streamlit.testing.v1 import AppTest

from core.accounts.manage import check_password
from core.front.accounts import add_account, get_account, members_of_project
from core.front.actor import Actor
from core.front.projects import create_project, parse_spec
from core.store import Store, open_store
from core.store.schema import ActionRow
from tests.page_text import texts

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a long enough password"
NEW_PASSWORD = "another long password"
SIGN_IN = "FormSubmitter:sign_in-Sign in"
ADD = "FormSubmitter:team_add_account-Add the account"
SET_ROLE = "FormSubmitter:team_set_role-Change the role"
RESET = "FormSubmitter:team_reset_password-Set the new password"
FIRST_OWNER = "FormSubmitter:team_first_owner-Create the first owner account"


@pytest.fixture
def store(studio_home: Path) -> Store:
    return open_store()


@pytest.fixture
def team(store: Store) -> int:
    """olga (owner), lena (lead), anna (annotator) and a project 'crops' made by lena; returns its id."""
    add_account(Actor.of(store), "olga", "owner", PASSWORD, display_name="Olga Owner")
    olga = Actor(store, "olga", "owner", team=True)
    add_account(olga, "lena", "lead", PASSWORD, display_name="Lena Lead")
    add_account(olga, "anna", "annotator", PASSWORD, display_name="Anna Annotator")
    lena = Actor(store, "lena", "lead", team=True)
    spec = parse_spec(name="crops", labels=[{"name": "weather"}, {"name": "pests"}], languages=[{"code": "en"}])
    return create_project(lena, spec).id


def _ok(at: AppTest) -> AppTest:
    assert not at.exception, at.exception
    return at


def _team_page_as(username: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.text_input[0].input(username)
    at.text_input[1].input(PASSWORD)
    _ok(at.button(key=SIGN_IN).click().run())
    return _ok(at.switch_page("pages/team.py").run())


def _input(at: AppTest, key: str, value: str) -> None:
    at.text_input(key=key).input(value)


def _table(at: AppTest, index: int = 0) -> list[dict[str, object]]:
    return at.dataframe[index].value.to_dict(orient="records")


def test_an_owner_sees_every_account_and_adds_one(store: Store, team: int) -> None:
    at = _team_page_as("olga")
    assert [t.label for t in at.tabs] == ["Accounts", "Project members", "Agreement", "LLM endpoints", "Audit log"]
    rows = _table(at)
    assert [r["username"] for r in rows] == ["anna", "lena", "olga"]
    assert list(rows[0]) == [
        "username", "display name", "e-mail", "role", "active", "created (UTC)", "last sign-in (UTC)"
    ]  # fmt: skip
    assert (rows[2]["display name"], rows[2]["role"], rows[2]["active"]) == ("Olga Owner", "owner", True)
    assert rows[0]["last sign-in (UTC)"] == "never" and rows[2]["last sign-in (UTC)"] != "never"

    _input(at, "team_new_username", "victor")
    _input(at, "team_new_display", "Victor Viewer")
    at.selectbox(key="team_new_role").select("viewer")
    _input(at, "team_new_pw", PASSWORD)
    _input(at, "team_new_pw2", PASSWORD + " typo")
    _ok(at.button(key=ADD).click().run())
    assert "The two passwords differ: nothing was changed" in texts(at.error)
    assert at.text_input(key="team_new_username").value == "victor"  # nothing typed is lost
    assert "victor" not in [a["username"] for a in _table(at)]

    _input(at, "team_new_pw2", PASSWORD)
    _ok(at.button(key=ADD).click().run())
    assert "Added Victor Viewer (victor) as viewer." in texts(at.success)
    victor = get_account(Actor.of(store), "victor")
    assert (victor.role, victor.display_name, victor.has_password) == ("viewer", "Victor Viewer", True)
    assert at.text_input(key="team_new_username").value == ""  # the form starts afresh

    # a single sign-on account: an e-mail address and no password
    _input(at, "team_new_username", "sam")
    _input(at, "team_new_email", "sam@example.org")
    at.checkbox(key="team_new_sso").check()
    _ok(at.button(key=ADD).click().run())
    sam = get_account(Actor.of(store), "sam")
    assert (sam.email, sam.has_password, sam.role) == ("sam@example.org", False, "annotator")

    # a username core refuses: its words, and nothing added
    _input(at, "team_new_username", "Bad Name!")
    _input(at, "team_new_pw", PASSWORD)
    _input(at, "team_new_pw2", PASSWORD)
    _ok(at.button(key=ADD).click().run())
    assert at.error and "Bad Name!" not in [a["username"] for a in _table(at)]


def test_an_owner_changes_roles_deactivates_and_resets_and_the_last_owner_stays(store: Store, team: int) -> None:
    at = _team_page_as("olga")
    at.selectbox(key="team_pick").select("anna").run()
    at.selectbox(key="team_role_anna").select("lead")
    _ok(at.button(key=SET_ROLE).click().run())
    assert "Anna Annotator (anna) is now lead." in texts(at.success)
    assert get_account(Actor.of(store), "anna").role == "lead"

    _ok(at.button(key="team_deactivate").click().run())
    assert "is deactivated" in texts(at.success)
    assert not get_account(Actor.of(store), "anna").active
    assert "team_deactivate" not in [b.key for b in at.button]
    _ok(at.button(key="team_reactivate").click().run())
    assert get_account(Actor.of(store), "anna").active

    _input(at, "team_reset_pw", NEW_PASSWORD)
    _input(at, "team_reset_pw2", NEW_PASSWORD)
    _ok(at.button(key=RESET).click().run())
    assert "The password of Anna Annotator (anna) is changed." in texts(at.success)
    assert check_password(store, "anna", NEW_PASSWORD) is not None

    # olga is the only owner: giving it up is refused, in words, and nothing changes
    at.selectbox(key="team_pick").select("olga").run()
    assert "This is your own account" in texts(at.caption)
    at.selectbox(key="team_role_olga").select("viewer")
    _ok(at.button(key=SET_ROLE).click().run())
    assert "olga is the only active owner: make another account an owner first" in texts(at.error)
    assert get_account(Actor.of(store), "olga").role == "owner"
    _ok(at.button(key="team_deactivate").click().run())
    assert "olga is the only active owner" in texts(at.error)
    assert get_account(Actor.of(store), "olga").active


def test_an_owner_adds_and_removes_project_members(store: Store, team: int) -> None:
    at = _team_page_as("olga")
    assert at.selectbox(key="team_members_project").value == team
    before = {m.username for m in members_of_project(Actor.of(store), team)}
    assert "anna" not in before
    at.selectbox(key=f"team_member_add_{team}").select("anna")
    _ok(at.button(key="team_member_add").click().run())
    assert "Anna Annotator (anna) is now a member of 'crops'." in texts(at.success)
    assert "anna" in {m.username for m in members_of_project(Actor.of(store), team)}
    members_table = next(t for t in at.dataframe if "name" in t.value.columns and "username" in t.value.columns
                         and "display name" not in t.value.columns)  # fmt: skip
    assert "Anna Annotator" in list(members_table.value["name"])

    at.selectbox(key=f"team_member_remove_{team}").select("anna")
    _ok(at.button(key="team_member_remove").click().run())
    assert "is no longer a member of 'crops'" in texts(at.success)
    assert {m.username for m in members_of_project(Actor.of(store), team)} == before


@pytest.mark.parametrize("username", ["lena", "anna"])
def test_everyone_else_reads_the_team_without_any_form(team: int, username: str) -> None:
    at = _team_page_as(username)
    assert [t.value for t in at.title] == ["Team"]
    assert len(at.tabs) == 0 and len(at.text_input) == 0 and len(at.selectbox) == 0
    assert [b.label for b in at.button if b.key != "_studio_sign_out"] == []
    assert not at.get("download_button")
    assert "Only an owner can add people, change roles or choose who works on a project: ask Olga Owner." in texts(
        at.caption
    )
    rows = _table(at)
    assert rows == [
        {"name": "Anna Annotator", "role": "annotator"},
        {"name": "Lena Lead", "role": "lead"},
        {"name": "Olga Owner", "role": "owner"},
    ]


def test_personal_mode_creates_the_first_owner_and_then_asks_to_sign_in(store: Store) -> None:
    at = _ok(AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run())
    _ok(at.switch_page("pages/team.py").run())
    assert [t.label for t in at.tabs] == ["Team mode", "LLM endpoints", "Audit log"]
    assert "personal mode" in texts(at.markdown)
    assert "switches the studio to team mode" in texts(at.warning)
    _input(at, "team_first_username", "olga")
    _input(at, "team_first_display", "Olga Owner")
    _input(at, "team_first_pw", PASSWORD)
    _input(at, "team_first_pw2", "not the same")
    _ok(at.button(key=FIRST_OWNER).click().run())
    assert "The two passwords differ" in texts(at.error)
    assert at.text_input(key="team_first_username").value == "olga"

    _input(at, "team_first_pw2", PASSWORD)
    _ok(at.button(key=FIRST_OWNER).click().run())
    olga = get_account(Actor.of(store), "olga")
    assert (olga.role, olga.display_name) == ("owner", "Olga Owner")
    assert check_password(store, "olga", PASSWORD) is not None
    assert [t.value for t in at.title] == ["Sign in to Distill Studio"]  # team mode from this rerun on
    at.text_input[0].input("olga")
    at.text_input[1].input(PASSWORD)
    _ok(at.button(key=SIGN_IN).click().run())
    _ok(at.switch_page("pages/team.py").run())
    assert [t.label for t in at.tabs] == ["Accounts", "Project members", "Agreement", "LLM endpoints", "Audit log"]


def test_served_to_the_network_the_first_owner_is_made_on_the_server(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit import config as st_config

    monkeypatch.setenv("STUDIO_ALLOW_OPEN", "1")
    before = st_config.get_option("server.address")
    st_config.set_option("server.address", "0.0.0.0")
    try:
        at = _ok(AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run())
        _ok(at.switch_page("pages/team.py").run())
    finally:
        st_config.set_option("server.address", before)
    assert "python -m core users add NAME --role owner" in texts(at.info)
    assert FIRST_OWNER not in [b.key for b in at.button]
    assert [t.key for t in at.text_input if t.key.startswith("team_first")] == []


def test_an_owner_narrows_the_audit_log(store: Store, team: int) -> None:
    olga = Actor(store, "olga", "owner", team=True)
    other = create_project(
        olga, parse_spec(name="reviews", labels=[{"name": "good"}, {"name": "bad"}], languages=[{"code": "en"}])
    )
    with store.session() as session:  # olga's project happened on 2025-02-01 (UTC)
        session.execute(update(ActionRow).where(ActionRow.project_id == other.id).values(at=datetime(2025, 2, 1, 12)))
    at = _team_page_as("olga")
    audit = [r for r in _table(at, -1) if r["action"] == "project.create"]
    assert [(r["who"], r["project"], r["action"]) for r in audit] == [
        ("Olga Owner (olga)", "reviews", "project.create"),
        ("Lena Lead (lena)", "crops", "project.create"),
    ]
    assert audit[1]["details"].startswith("name: crops;")
    assert {r["action"] for r in _table(at, -1)} >= {"account.add", "member.add"}  # account changes are audited
    assert [b.label for b in at.get("download_button")] == ["Download the log (CSV)", "Download the log (JSONL)"]

    at.selectbox(key="audit_who").select("lena").run()
    assert {r["project"] for r in _table(at, -1)} == {"crops"}
    at.selectbox(key="audit_who").select(None)
    at.selectbox(key="audit_project").select(other.id).run()
    assert {r["project"] for r in _table(at, -1)} == {"reviews"}
    at.selectbox(key="audit_project").select(None)
    at.date_input(key="audit_since").set_value(date(2025, 1, 1))
    at.date_input(key="audit_until").set_value(date(2025, 2, 1)).run()
    assert {r["who"] for r in _table(at, -1)} == {"Olga Owner (olga)"}
    at.date_input(key="audit_since").set_value(date(2025, 2, 2)).run()
    assert "The first day (2025-02-02) is after the last day (2025-02-01)" in texts(at.error)
    at.date_input(key="audit_until").set_value(date(2025, 2, 3)).run()
    assert "No entry in the log matches these choices." in texts(at.info)
    assert all(b.disabled for b in at.get("download_button"))


def test_the_team_page_shows_only_the_sign_in_form_before_a_sign_in(team: int) -> None:
    for at in (
        AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).switch_page("pages/team.py"),  # a deep link
        AppTest.from_file(str(ROOT / "pages" / "team.py"), default_timeout=60),  # the page run on its own
    ):
        _ok(at.run())
        assert [t.value for t in at.title] == ["Sign in to Distill Studio"]
        assert len(at.dataframe) == 0 and len(at.tabs) == 0
