"""CLI subcommands of accounts (team mode): users add, list, set-role, deactivate and reset-password.

A password is read from a prompt (not echoed), or from the first line of standard input when that is not a
terminal (`printf '%s\\n' "$PW" | python -m core users add anna --role annotator`); never from an argument, which
other users of the server could read in the process list.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from core.cli.acting import acting_user
from core.cli.arguments import Subparsers, csv_list
from core.cli.output import print_json, table
from core.errors import InvalidInput
from core.front.accounts import (
    ROLES,
    Account,
    add_account,
    deactivate_and_hand_on,
    list_accounts,
    reset_account_password,
    set_account_role,
)
from core.front.actor import Store
from core.front.review import parse_languages, set_account_languages


def read_password(username: str) -> str:
    """A new password for the account: asked twice at a terminal, else the first line of standard input."""
    if not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise InvalidInput(
                f"No password was given for {username}: type it at the prompt, or send it on standard input."
            )
        return password
    password = getpass.getpass(f"New password for {username}: ")
    if getpass.getpass("The same password again: ") != password:
        raise InvalidInput("The two passwords differ: nothing was changed.")
    return password


def _when(value: object) -> str | None:
    return value.isoformat() if value is not None and hasattr(value, "isoformat") else None


def _account_json(account: Account) -> dict[str, object]:
    return {
        "username": account.username,
        "display_name": account.display_name,
        "email": account.email,
        "role": account.role,
        "active": account.active,
        "created_at": _when(account.created_at),
        "created_by": account.created_by,
        "last_sign_in_at": _when(account.last_sign_in_at),
    }


def cmd_add(args: argparse.Namespace, store: Store) -> int:
    actor = acting_user(args, store)
    languages = parse_languages(csv_list(args.languages))  # refused before the account is made
    account = add_account(
        actor,
        args.name,
        args.role,
        read_password(args.name.strip()),
        display_name=args.display_name,
        email=args.email,
    )
    if languages:
        set_account_languages(actor, account.username, languages)
    if args.json:
        print_json(_account_json(account) | {"languages": languages})
    else:
        judges = f"; judges {', '.join(languages)}" if languages else ""
        print(f"Added {account.username} ({account.display_name}) as {account.role}{judges}.")
    return 0


def cmd_set_languages(args: argparse.Namespace, store: Store) -> int:
    languages = set_account_languages(acting_user(args, store), args.name, csv_list(args.languages))
    print(f"{args.name.strip()} judges {', '.join(languages) or 'no language'} now.")
    return 0


def cmd_list(args: argparse.Namespace, store: Store) -> int:
    accounts = list_accounts(acting_user(args, store))
    if args.json:
        print_json([_account_json(a) for a in accounts])
        return 0
    if not accounts:
        print("No accounts yet (personal mode). Add the first owner with: python -m core users add NAME --role owner")
        return 0
    rows = [
        [
            a.username,
            a.display_name,
            a.role,
            "active" if a.active else "deactivated",
            a.last_sign_in_at.strftime("%Y-%m-%d %H:%M") if a.last_sign_in_at else "never",
        ]
        for a in accounts
    ]
    print(table(rows, ["username", "name", "role", "status", "last sign-in"]))
    return 0


def cmd_set_role(args: argparse.Namespace, store: Store) -> int:
    account = set_account_role(acting_user(args, store), args.name, args.role)
    print(f"{account.username} is now {account.role}.")
    return 0


def cmd_deactivate(args: argparse.Namespace, store: Store) -> int:
    done = deactivate_and_hand_on(acting_user(args, store), args.name)
    print(f"{done.account.username} is deactivated: the account can no longer sign in; its history stays.")
    for line in done.handed_on:
        print(f"Samples still to judge went to the others: {line}")
    return 0


def cmd_reset_password(args: argparse.Namespace, store: Store) -> int:
    actor = acting_user(args, store)
    account = reset_account_password(actor, args.name, read_password(args.name.strip()))
    print(f"The password of {account.username} is changed.")
    return 0


def add_parsers(sub: Subparsers) -> None:
    """users and its subcommands."""
    users = sub.add_parser("users", help="team accounts: add, list, set-role, deactivate, reset-password")
    commands = users.add_subparsers(dest="users_command", metavar="COMMAND")
    commands.required = True

    p = commands.add_parser("add", help="add an account (the password is asked for, or read from stdin)")
    p.add_argument("name", help="username: lower-case letters, digits, . _ -")
    p.add_argument("--role", required=True, choices=ROLES, help="what the account may do")
    p.add_argument("--display-name", help="the name the pages show (default: the username)")
    p.add_argument("--email", help="e-mail address (single sign-on matches accounts by it)")
    p.add_argument("--languages", help="the languages the account can judge in reviews, e.g. sw,en")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_add)

    p = commands.add_parser("set-languages", help="set the languages an account can judge in reviews")
    p.add_argument("name", help="username")
    p.add_argument("languages", help="language codes, comma-separated (e.g. sw,en; '' for none)")
    p.set_defaults(handler=cmd_set_languages)

    p = commands.add_parser("list", help="list the accounts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_list)

    p = commands.add_parser("set-role", help="change an account's role")
    p.add_argument("name", help="username")
    p.add_argument("role", choices=ROLES)
    p.set_defaults(handler=cmd_set_role)

    p = commands.add_parser("deactivate", help="stop an account from signing in (its history stays)")
    p.add_argument("name", help="username")
    p.set_defaults(handler=cmd_deactivate)

    p = commands.add_parser("reset-password", help="give an account a new password (asked for, or read from stdin)")
    p.add_argument("name", help="username")
    p.set_defaults(handler=cmd_reset_password)
