"""The Team page's accounts: owners see every account and add, change, deactivate and reset them; everyone else
sees who is on the team and what each may do; in personal mode, the first owner is created here.

Every change goes through core.front.accounts, which checks the acting user's role itself."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components.feedback import flash, friendly_errors
from components.safe_text import md, say
from core.front.accounts import (
    ROLES,
    Account,
    add_account,
    deactivate_and_hand_on,
    list_accounts,
    reactivate_account,
    reset_account_password,
    set_account_role,
)
from core.front.actor import Actor
from core.front.review import account_languages_of, parse_languages, set_account_languages
from core.language_names import language_name

ROLE_WORDS = {
    "owner": "accounts, LLM endpoints, settings and everything else",
    "lead": "creates projects, writes prompts, runs generation, training and evaluation, changes many samples at once",
    "annotator": "reviews and labels samples in the projects they are a member of",
    "viewer": "reads everything, changes nothing (for demos and stakeholders)",
}
PASSWORDS_DIFFER = "The two passwords differ: nothing was changed. Type the same password twice."
ADD_FIELDS = (
    "team_new_username",
    "team_new_display",
    "team_new_email",
    "team_new_role",
    "team_new_sso",
    "team_new_pw",
    "team_new_pw2",
    "team_new_languages",
)
LANGUAGES_HELP = (
    "The languages this person can judge, as ISO 639 codes separated by commas (e.g. sw, en): review work hands "
    "them only samples in these languages."
)


def roles_explained() -> None:
    st.markdown("\n".join(f"- **{role}**: {words}" for role, words in ROLE_WORDS.items()))


def _forget(*keys: str) -> None:
    """Empty these widgets at the next rerun (after a change that worked: the form starts afresh)."""
    for key in keys:
        st.session_state.pop(key, None)


def _label(account: Account) -> str:
    name = (
        account.username if account.display_name == account.username else f"{account.display_name} ({account.username})"
    )
    return f"{name} · {account.role}" + ("" if account.active else " · deactivated")


def _codes(typed: str) -> list[str]:
    """Language codes typed as "sw, en" (or "sw en"), checked: InvalidInput names an unknown one."""
    return parse_languages(typed.replace(",", " ").split())


def _languages_in_words(codes: list[str]) -> str:
    return ", ".join(f"{language_name(code)} ({code})" for code in codes) if codes else "none"


def _password_twice(first: str, second: str) -> str | None:
    """The new password typed twice, or None after saying what is wrong."""
    if not first:
        st.error("Type the new password, twice.", icon=":material/error:")
        return None
    if first != second:
        st.error(PASSWORDS_DIFFER, icon=":material/error:")
        return None
    return first


def accounts_table(accounts: list[Account]) -> None:
    table = pd.DataFrame(
        [
            {
                "username": a.username,
                "display name": a.display_name,
                "e-mail": a.email or "",
                "role": a.role,
                "active": a.active,
                "created (UTC)": f"{a.created_at:%Y-%m-%d %H:%M}",
                "last sign-in (UTC)": f"{a.last_sign_in_at:%Y-%m-%d %H:%M}" if a.last_sign_in_at else "never",
            }
            for a in accounts
        ]
    )
    st.dataframe(table, hide_index=True, width="stretch")


def accounts_section(actor: Actor) -> None:
    """For owners: the accounts, and the forms that change them."""
    accounts = list_accounts(actor)
    accounts_table(accounts)
    with st.expander("What each role may do"):
        roles_explained()
    add_account_form(actor)
    if accounts:
        change_account_forms(actor, accounts)


def add_account_form(actor: Actor) -> None:
    st.subheader("Add an account")
    with st.form("team_add_account"):
        left, right = st.columns(2)
        username = left.text_input("Username", key="team_new_username", help="Lower-case letters, digits, . _ -")
        display_name = right.text_input(
            "Display name", key="team_new_display", help="The name the pages show (default: the username)"
        )
        email = left.text_input("E-mail (optional)", key="team_new_email", help="Single sign-on matches accounts by it")
        role = right.selectbox("Role", ROLES, index=ROLES.index("annotator"), key="team_new_role")
        languages = st.text_input(
            "Languages they judge (annotators)",
            key="team_new_languages",
            placeholder="e.g. sw, en",
            help=LANGUAGES_HELP,
        )
        sso_only = st.checkbox(
            "Single sign-on only: no password (the person signs in with the e-mail address above)",
            key="team_new_sso",
        )
        left, right = st.columns(2)
        password = left.text_input("Password", type="password", key="team_new_pw", autocomplete="new-password")
        again = right.text_input(
            "The same password again", type="password", key="team_new_pw2", autocomplete="new-password"
        )
        submitted = st.form_submit_button("Add the account", type="primary", icon=":material/person_add:")
    if not submitted:
        return
    chosen: str | None
    if sso_only:
        if password or again:
            st.error(
                "A single sign-on account has no password: empty both password fields, or untick single sign-on.",
                icon=":material/error:",
            )
            return
        chosen = None
    else:
        chosen = _password_twice(password, again)
        if chosen is None:
            return
    with friendly_errors("Adding the account"):
        codes = _codes(languages)  # checked first: a typo adds no account
        account = add_account(actor, username, role, chosen, display_name=display_name or None, email=email or None)
        if codes:
            set_account_languages(actor, account.username, codes)
        judged = f" They judge {_languages_in_words(codes)}." if codes else ""
        flash(f"Added {account.display_name} ({account.username}) as {account.role}.{judged}")
        _forget(*ADD_FIELDS)
        st.rerun()


def change_account_forms(actor: Actor, accounts: list[Account]) -> None:
    st.subheader("Change an account")
    by_name = {a.username: a for a in accounts}
    chosen = st.selectbox("Account", list(by_name), format_func=lambda u: _label(by_name[u]), key="team_pick")
    account = by_name[chosen]
    if account.username == actor.user:
        st.caption(
            "This is your own account: if you give up the owner role or deactivate it, you stop managing the team."
        )
    role_column, active_column = st.columns(2)
    with role_column, st.form("team_set_role"):
        role = st.selectbox("New role", ROLES, index=ROLES.index(account.role), key=f"team_role_{account.username}")
        if st.form_submit_button("Change the role", icon=":material/badge:"):
            with friendly_errors("Changing the role"):
                changed = set_account_role(actor, account.username, role)
                flash(f"{changed.display_name} ({changed.username}) is now {changed.role}.")
                st.rerun()
    with active_column:
        if account.active:
            st.caption("A deactivated account can no longer sign in (its sessions end at once); its history stays.")
            if st.button("Deactivate the account", icon=":material/person_off:", key="team_deactivate"):
                with friendly_errors("Deactivating the account"):
                    done = deactivate_and_hand_on(actor, account.username)
                    changed = done.account
                    flash(f"{changed.display_name} ({changed.username}) is deactivated: the account can no longer "
                          "sign in; its history stays."
                          + "".join(f" Samples still to judge went to the others ({line})." for line in done.handed_on)
                    )  # fmt: skip
                    st.rerun()
        else:
            st.caption("This account is deactivated: it cannot sign in. Reactivate it to let it sign in again.")
            if st.button("Reactivate the account", icon=":material/person_check:", key="team_reactivate"):
                with friendly_errors("Reactivating the account"):
                    changed = reactivate_account(actor, account.username)
                    flash(f"{changed.display_name} ({changed.username}) can sign in again.")
                    st.rerun()
    _languages_form(actor, account)
    with st.form("team_reset_password"):
        st.markdown(say("**New password for {}**", account.display_name))
        st.caption("Their sessions end at once; tell them the new password another way than this studio.")
        left, right = st.columns(2)
        password = left.text_input("New password", type="password", key="team_reset_pw", autocomplete="new-password")
        again = right.text_input(
            "The same password again", type="password", key="team_reset_pw2", autocomplete="new-password"
        )
        submitted = st.form_submit_button("Set the new password", icon=":material/password:")
    if submitted and (chosen_password := _password_twice(password, again)) is not None:
        with friendly_errors("Setting the password"):
            changed = reset_account_password(actor, account.username, chosen_password)
            flash(f"The password of {changed.display_name} ({changed.username}) is changed.")
            _forget("team_reset_pw", "team_reset_pw2")
            st.rerun()


def _languages_form(actor: Actor, account: Account) -> None:
    """The languages an account can judge (what review work hands it)."""
    current = account_languages_of(actor).get(account.username, [])
    with st.form("team_set_languages"):
        typed = st.text_input(
            say("Languages {} judges", account.display_name),
            value=", ".join(current),
            key=f"team_languages_{account.username}",
            placeholder="e.g. sw, en",
            help=LANGUAGES_HELP,
        )
        submitted = st.form_submit_button("Set the languages", icon=":material/translate:")
    if submitted:
        with friendly_errors("Setting the languages"):
            codes = set_account_languages(actor, account.username, _codes(typed))
            flash(f"{account.display_name} ({account.username}) judges: {_languages_in_words(codes)}.")
            st.rerun()


def team_overview(actor: Actor) -> None:
    """For everyone but owners: who is on the team and their roles; nothing to change."""
    accounts = [a for a in list_accounts(actor) if a.active]
    owners = [a.display_name for a in accounts if a.role == "owner"]
    st.caption(
        "Only an owner can add people, change roles or choose who works on a project"
        + (f": ask {', '.join(md(name) for name in owners)}." if owners else ".")
    )
    st.dataframe(
        pd.DataFrame([{"name": a.display_name, "role": a.role} for a in accounts], columns=["name", "role"]),
        hide_index=True,
        width="stretch",
    )
    with st.expander("What each role may do"):
        roles_explained()


def first_owner_section(actor: Actor, *, served_here_only: bool) -> None:
    """Personal mode: what team mode is, and (on this machine only) the form that creates the first owner."""
    st.markdown(
        "The studio is in **personal mode**: nobody signs in, and whoever opens it may do everything, as "
        f"{md(actor.user)}. That is safe only while it is served on this machine alone.\n\n"
        "**Team mode** starts with the first account, an owner. From then on every page asks to sign in, each "
        "person acts under their own name (the action log records who did what), and their role decides what "
        "they may do:"
    )
    roles_explained()
    if not served_here_only:
        st.info(
            "This studio is served to the network, so the first owner cannot be created from a browser: on the "
            "server, run `python -m core users add NAME --role owner` (it asks for the password).",
            icon=":material/lan:",
        )
        return
    st.subheader("Create the first owner account")
    with st.form("team_first_owner"):
        left, right = st.columns(2)
        username = left.text_input("Username", key="team_first_username", help="Lower-case letters, digits, . _ -")
        display_name = right.text_input("Display name", key="team_first_display", help="The name the pages show")
        left, right = st.columns(2)
        password = left.text_input("Password", type="password", key="team_first_pw", autocomplete="new-password")
        again = right.text_input(
            "The same password again", type="password", key="team_first_pw2", autocomplete="new-password"
        )
        st.warning(
            "Creating this account switches the studio to team mode: right after, this page gives way to the "
            "sign-in form. Sign in with the username and password above, then add the others here.",
            icon=":material/info:",
        )
        submitted = st.form_submit_button(
            "Create the first owner account", type="primary", icon=":material/person_add:"
        )
    if not submitted or (chosen := _password_twice(password, again)) is None:
        return
    with friendly_errors("Creating the first owner"):
        account = add_account(actor, username, "owner", chosen, display_name=display_name or None)
        flash(f"The studio is in team mode now, with {account.display_name} ({account.username}) as its owner.")
        st.rerun()
