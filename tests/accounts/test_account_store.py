"""Accounts in the store and in core: argon2 passwords, username rules, roles, team mode and who acts."""

from __future__ import annotations

import dataclasses

import pytest
from argon2 import PasswordHasher

from core.accounts.manage import actor_as, check_password, create_account, team_mode
from core.accounts.members import add_member, members_of, projects_of, remove_member
from core.accounts.passwords import hash_password, needs_rehash, verify_password
from core.errors import InvalidInput, PermissionDenied
from core.front.accounts import (
    add_account,
    deactivate_account,
    list_accounts,
    reset_account_password,
    set_account_role,
)
from core.front.actor import Actor
from core.front.projects import create_project, parse_spec, remove_project
from core.store import Store
from core.store import accounts as stored
from core.store.accounts import Account

PASSWORD = "correct horse battery"


def test_an_argon2_hash_is_not_the_password_and_verifies_it() -> None:
    hashed = hash_password(PASSWORD)
    assert PASSWORD not in hashed
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, PASSWORD)
    assert not verify_password(hashed, PASSWORD + "!")
    assert not verify_password("not a hash", PASSWORD)
    assert not needs_rehash(hashed)
    assert needs_rehash(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD))


def test_the_account_never_carries_the_hash(store: Store) -> None:
    account = create_account(store, "anna", "owner", PASSWORD, display_name="Anna K")
    fields = {field.name for field in dataclasses.fields(Account)}
    assert not any("hash" in name or name == "password" for name in fields)
    assert PASSWORD not in repr(account)
    stored_hash = stored.password_hash_of(store, "anna")
    assert stored_hash is not None and PASSWORD not in stored_hash
    assert (account.username, account.display_name, account.role, account.active) == ("anna", "Anna K", "owner", True)
    assert account.created_by == "tester" and account.password_changed_at is not None


def test_password_check_and_rehash_of_an_old_hash(store: Store) -> None:
    create_account(store, "anna", "owner", PASSWORD)
    assert check_password(store, "anna", PASSWORD) is not None
    assert check_password(store, "anna", "wrong password") is None
    assert check_password(store, "nobody", PASSWORD) is None
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    stored.set_password_hash(store, "anna", weak, changed=False)
    assert check_password(store, "anna", PASSWORD) is not None
    renewed = stored.password_hash_of(store, "anna")
    assert renewed is not None and renewed != weak and not needs_rehash(renewed)


@pytest.mark.parametrize("name", ["Anna Smith", "", "-anna", "anna/b", "a" * 65])
def test_bad_usernames_are_refused_with_a_plain_message(store: Store, name: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        create_account(store, name, "owner", PASSWORD)
    assert "username" in str(refused.value).lower()


def test_short_passwords_unknown_roles_and_duplicates_are_refused(store: Store) -> None:
    with pytest.raises(InvalidInput, match="too short"):
        create_account(store, "anna", "owner", "short")
    with pytest.raises(InvalidInput, match="not a role"):
        create_account(store, "anna", "boss", PASSWORD)
    create_account(store, "anna", "owner", PASSWORD, email="anna@example.org")
    with pytest.raises(InvalidInput, match="exists already"):
        create_account(store, "anna", "lead", PASSWORD)
    with pytest.raises(InvalidInput, match="e-mail"):
        create_account(store, "bob", "lead", PASSWORD, email="ANNA@example.org")


def test_personal_mode_until_the_first_account_then_team_mode(store: Store) -> None:
    assert not team_mode(store)
    personal = actor_as(store, "someone")
    assert (personal.user, personal.role, personal.team) == ("someone", "owner", False)

    with pytest.raises(InvalidInput, match="first account must be an owner"):
        add_account(Actor.of(store), "bob", "lead", PASSWORD)
    add_account(Actor.of(store), "anna", "owner", PASSWORD)
    assert team_mode(store)

    owner = actor_as(store, "anna")
    assert (owner.user, owner.role, owner.team) == ("anna", "owner", True)
    add_account(owner, "bob", "lead", PASSWORD)
    lead = actor_as(store, "bob")
    assert (lead.role, lead.team) == ("lead", True)

    with pytest.raises(PermissionDenied, match="no account named 'someone'"):
        actor_as(store, "someone")
    deactivate_account(owner, "bob")
    with pytest.raises(PermissionDenied, match="deactivated"):
        actor_as(store, "bob")


def test_only_owners_manage_accounts_in_team_mode(store: Store) -> None:
    add_account(Actor.of(store), "anna", "owner", PASSWORD)
    owner = actor_as(store, "anna")
    add_account(owner, "bob", "lead", PASSWORD)
    add_account(owner, "cleo", "annotator", PASSWORD)
    lead, annotator = actor_as(store, "bob"), actor_as(store, "cleo")
    with pytest.raises(PermissionDenied) as refused:
        add_account(lead, "dan", "viewer", PASSWORD)
    assert str(refused.value) == "permission denied: managing accounts needs the role owner; bob is a lead"
    with pytest.raises(PermissionDenied, match="cleo is an annotator"):
        set_account_role(annotator, "cleo", "owner")
    with pytest.raises(PermissionDenied):
        deactivate_account(lead, "anna")
    with pytest.raises(PermissionDenied):
        reset_account_password(lead, "anna", "a new password!")
    assert [a.username for a in list_accounts(annotator)] == ["anna", "bob", "cleo"]

    assert set_account_role(owner, "bob", "viewer").role == "viewer"
    reset_account_password(owner, "cleo", "another password")
    assert check_password(store, "cleo", "another password") is not None
    assert check_password(store, "cleo", PASSWORD) is None


def test_the_last_active_owner_stays_an_owner(store: Store) -> None:
    add_account(Actor.of(store), "anna", "owner", PASSWORD)
    owner = actor_as(store, "anna")
    with pytest.raises(InvalidInput, match="only active owner"):
        deactivate_account(owner, "anna")
    with pytest.raises(InvalidInput, match="only active owner"):
        set_account_role(owner, "anna", "lead")
    add_account(owner, "bob", "owner", PASSWORD)
    assert set_account_role(owner, "anna", "lead").role == "lead"


def test_project_membership(store: Store) -> None:
    actor = Actor.of(store)
    spec = parse_spec(name="crops", labels=[{"name": "weather"}, {"name": "pests"}], languages=[{"code": "en"}])
    project = create_project(actor, spec)
    create_account(store, "anna", "owner", PASSWORD)
    create_account(store, "cleo", "annotator", PASSWORD)
    assert add_member(store, project.id, "cleo")
    assert not add_member(store, project.id, "cleo")
    assert projects_of(store, "cleo") == [project.id]
    assert [a.username for a in members_of(store, project.id)] == ["cleo"]
    assert remove_member(store, project.id, "cleo")
    assert not remove_member(store, project.id, "cleo")
    assert projects_of(store, "cleo") == []

    add_member(store, project.id, "cleo")
    remove_project(actor_as(store, "anna"), project.id)
    assert projects_of(store, "cleo") == []


def test_two_owners_deactivating_each_other_at_once_leave_one_owner(store: Store) -> None:
    """The owner count and the change share one locked transaction: of two owners removing each other at the same
    moment, one succeeds and the other is refused, so an owner always remains."""
    import threading

    add_account(Actor.of(store), "anna", "owner", PASSWORD)
    add_account(actor_as(store, "anna"), "bob", "owner", PASSWORD)
    actors = {"anna": actor_as(store, "anna"), "bob": actor_as(store, "bob")}
    start = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def remove(who: str, whom: str) -> None:
        start.wait()
        try:
            deactivate_account(actors[who], whom)
            outcomes[who] = "done"
        except InvalidInput as exc:
            outcomes[who] = str(exc)

    threads = [threading.Thread(target=remove, args=pair) for pair in (("anna", "bob"), ("bob", "anna"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    done = [who for who, outcome in outcomes.items() if outcome == "done"]
    refused = [who for who, outcome in outcomes.items() if "only active owner" in outcome]
    assert len(done) == 1 and len(refused) == 1
    owners = [a for a in stored.list_accounts(store) if a.active and a.role == "owner"]
    assert len(owners) == 1
