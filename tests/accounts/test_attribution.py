"""Attribution in team mode: what a signed-in account changes is recorded as that account's, not as the server's
own login (the store the studio opened once per server process)."""

from __future__ import annotations

import pandas as pd

from core.front.accounts import add_account, add_project_member
from core.front.actor import Actor
from core.front.curation import decide
from core.front.data import ColumnMapping, execute_import, page_samples, plan_import
from core.front.projects import create_project, get_project, parse_spec
from core.store import Store
from core.store.action_log import list_actions


def test_changes_are_recorded_as_the_acting_account(store: Store) -> None:
    assert store.user not in {"olga", "lena", "anna"}  # the server's own login
    add_account(Actor.of(store), "olga", "owner", "a long enough password 1")
    olga = Actor(store, "olga", "owner", team=True)
    add_account(olga, "lena", "lead", "a long enough password 2")
    add_account(olga, "anna", "annotator", "a long enough password 3")
    lena = Actor(store, "lena", "lead", team=True)
    anna = Actor(store, "anna", "annotator", team=True)

    project = create_project(
        lena, parse_spec(name="crops", labels=[{"name": "weather"}, {"name": "pests"}], languages=[{"code": "en"}])
    )
    add_project_member(olga, project.id, "lena")
    add_project_member(olga, project.id, "anna")
    frame = pd.DataFrame({"text": ["rain all week", "aphids on the beans"], "label": ["weather", "pests"]})
    plan = plan_import(
        lena, project, frame, ColumnMapping(text_column="text", label_column="label", language="en"), "rows"
    )
    execute_import(lena, project, plan)
    sample = page_samples(anna, get_project(anna, project.id)).samples[0]
    decide(anna, sample.id, "reject", version=sample.version)

    assert project.created_by == "lena"
    after = page_samples(lena, get_project(lena, project.id)).samples
    assert {s.created_by for s in after} == {"lena"}
    assert next(s for s in after if s.id == sample.id).updated_by == "anna"
    who_did = {(a.who, a.action) for a in list_actions(store, project.id)}
    assert ("lena", "project.create") in who_did
    assert any(who == "anna" and action == "reject" for who, action in who_did)
    assert all(who != store.user for who, _ in who_did)


def test_account_and_membership_changes_are_in_the_action_log(store: Store) -> None:
    from core.front.accounts import deactivate_account, remove_project_member, reset_account_password, set_account_role

    add_account(Actor.of(store), "olga", "owner", "a long enough password 1")
    olga = Actor(store, "olga", "owner", team=True)
    add_account(olga, "anna", "annotator", "a long enough password 2")
    project = create_project(olga, parse_spec(name="crops", labels=[{"name": "a"}], languages=[{"code": "en"}]))
    add_project_member(olga, project.id, "anna")
    set_account_role(olga, "anna", "lead")
    reset_account_password(olga, "anna", "another long password 3")
    remove_project_member(olga, project.id, "anna")
    deactivate_account(olga, "anna")

    about_anna = [
        (a.who, a.action, a.project_id) for a in list_actions(store, limit=1000) if a.target == "account:anna"
    ]
    assert sorted(about_anna, key=str) == sorted(
        [
            ("olga", "account.add", None),
            ("olga", "member.add", project.id),
            ("olga", "account.role", None),
            ("olga", "account.password", None),
            ("olga", "member.remove", project.id),
            ("olga", "account.deactivate", None),
        ],
        key=str,
    )
    logged = [a for a in list_actions(store, limit=1000) if a.target == "account:anna"]
    assert all("$argon2" not in str(a.before) + str(a.after) for a in logged)  # never a hash
