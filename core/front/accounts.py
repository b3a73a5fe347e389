"""Accounts at the front door: owners add, change, deactivate and reset accounts and project membership; everyone
signs in; the server asks whether it may serve on an address.

In personal mode (no account yet) whoever has a shell on the server may create the first account, which must be an
owner; from then on the studio is in team mode and only owners manage accounts. `actor_as` gives the acting user
for a username (the CLI's `--as`), `team_mode` says whether accounts apply.

Signing in (re-exported as they are): the password check with its growing delay after failures, single sign-on
through Streamlit's st.login, and whether a browser's stored session still holds. These take the store, not an
acting user: nobody acts before signing in.

Serving (core.serving): whether the studio may serve on an address (never to the network while no account exists);
the launcher and app.py ask the same question.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.accounts import manage, members
from core.accounts.manage import actor_as as actor_as
from core.accounts.manage import team_mode as team_mode
from core.accounts.sessions import SessionCheck as SessionCheck
from core.accounts.sessions import check_session as check_session
from core.accounts.sessions import end_session as end_session
from core.accounts.sessions import idle_limit_from_env as idle_limit_from_env
from core.accounts.sign_in import WRONG_CREDENTIALS as WRONG_CREDENTIALS
from core.accounts.sign_in import SignedIn as SignedIn
from core.accounts.sign_in import SignInResult as SignInResult
from core.accounts.sign_in import SignInThrottle as SignInThrottle
from core.accounts.sign_in import sign_in as sign_in
from core.accounts.sso import SsoResult as SsoResult
from core.accounts.sso import sign_in_with_sso as sign_in_with_sso
from core.errors import InvalidInput
from core.front.actor import ROLES as ROLES
from core.front.actor import Actor
from core.front.permissions import needs, reads
from core.review import distribution
from core.serving import bind_problem as bind_problem
from core.serving import is_loopback as is_loopback
from core.store import assignments
from core.store import projects as project_store
from core.store.accounts import Account as Account
from core.store.accounts import find_account as find_account


@needs("accounts.manage")
def add_account(
    actor: Actor,
    username: str,
    role: str,
    password: str | None,
    *,
    display_name: str | None = None,
    email: str | None = None,
) -> Account:
    """A new account (`password=None`: single sign-on only, matched by e-mail). The first one must be an owner."""
    if not manage.team_mode(actor.store) and role != "owner":
        raise InvalidInput(
            f"The first account must be an owner (someone has to manage the others): "
            f"add it with the role owner, then add {username.strip() or 'this account'} as {role}."
        )
    return manage.create_account(actor.store, username, role, password, display_name=display_name, email=email)


@reads
def list_accounts(actor: Actor) -> list[Account]:
    return manage.list_accounts(actor.store)


@reads
def get_account(actor: Actor, username: str) -> Account:
    return manage.get_account(actor.store, username)


@needs("accounts.manage")
def set_account_role(actor: Actor, username: str, role: str) -> Account:
    return manage.set_role(actor.store, username, role)


@dataclass(frozen=True)
class Deactivated:
    account: Account
    handed_on: list[str]  # per project where the account had samples to judge: where they went (one sentence)


@needs("accounts.manage")
def deactivate_account(actor: Actor, username: str) -> Account:
    return deactivate_and_hand_on(actor, username).account


@needs("accounts.manage")
def deactivate_and_hand_on(actor: Actor, username: str) -> Deactivated:
    """The account stops; the samples it had still to judge go to the other annotators of each review (what it
    judged stays)."""
    account = manage.deactivate(actor.store, username)
    handed_on = [
        f"{project_store.get_project(actor.store, project_id).name}: "
        + distribution.remove_annotators(actor.store, project_id, [account.username]).message
        for project_id in assignments.projects_with_open_work(actor.store, account.username)
    ]
    return Deactivated(account, handed_on)


@needs("accounts.manage")
def reactivate_account(actor: Actor, username: str) -> Account:
    return manage.reactivate(actor.store, username)


@needs("accounts.manage")
def reset_account_password(actor: Actor, username: str, password: str) -> Account:
    return manage.reset_password(actor.store, username, password)


@needs("accounts.manage")
def add_project_member(actor: Actor, project_id: int, username: str) -> bool:
    return members.add_member(actor.store, project_id, username)


@needs("accounts.manage")
def remove_project_member(actor: Actor, project_id: int, username: str) -> bool:
    return members.remove_member(actor.store, project_id, username)


@reads
def projects_of_account(actor: Actor, username: str) -> list[int]:
    return members.projects_of(actor.store, username)


@reads
def members_of_project(actor: Actor, project_id: int) -> list[Account]:
    return members.members_of(actor.store, project_id)


@reads
def display_names(actor: Actor) -> dict[str, str]:
    """Each account's display name by username (empty in personal mode: names are logins there)."""
    return {account.username: account.display_name for account in manage.list_accounts(actor.store)}
