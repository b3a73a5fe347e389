"""`python -m core`: every step of the studio without the browser.

The parser is built from the command modules beside this one, each adding its subcommands with `add_parsers`.
Errors end with a one-line message and a non-zero exit code, never a traceback (STUDIO_DEBUG=1 shows one).
"""

from __future__ import annotations

import argparse
import os
import select
import sys
import traceback
from collections.abc import Sequence

import core.cli.audit as audit
import core.cli.baselines as baselines
import core.cli.comparison as comparison
import core.cli.curation as curation
import core.cli.data as data
import core.cli.evaluation as evaluation
import core.cli.generation as generation
import core.cli.jobs as jobs
import core.cli.models as models
import core.cli.projects as projects
import core.cli.review as review
import core.cli.serving as serving
import core.cli.targeted as targeted
import core.cli.training as training
import core.cli.users as users
from core.cli.arguments import Handler
from core.errors import StudioError
from core.front.projects import open_studio
from core.settings import get_settings

# in the order `python -m core --help` lists the subcommands
COMMAND_GROUPS = (
    projects,
    data,
    jobs,
    generation,
    curation,
    review,
    models,
    training,
    evaluation,
    baselines,
    comparison,
    targeted,
    users,
    audit,
    serving,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Distill Studio without the browser.")
    parser.add_argument(
        "--as",
        dest="as_user",
        metavar="USER",
        help="act as this user (default: STUDIO_USER or your login); in team mode, an active account",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for group in COMMAND_GROUPS:
        group.add_parsers(sub)
    return parser


def _stdout_gone() -> bool:
    """Whether nobody reads our standard output any more (a pipe whose reader has exited)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return False


def _quiet_stdout() -> None:
    """The reader of our output has gone (`jobs | head -1`): send what is left to nowhere, as the Python docs
    advise, so that the interpreter's last flush does not complain either."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
        store = open_studio(settings.database_url, args.as_user or settings.user, create_demo=False)
        handler: Handler = args.handler
        code = handler(args, store)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's flush at exit
        return code
    except BrokenPipeError as exc:
        if not _stdout_gone():  # another pipe (a server's socket...): a problem like any other
            return _unexpected(exc)
        _quiet_stdout()
        return 141  # 128 + SIGPIPE: what `yes | head -1` gives its writer
    except StudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        return _unexpected(exc)


def _unexpected(exc: BaseException) -> int:
    if os.environ.get("STUDIO_DEBUG"):
        traceback.print_exception(exc)
    print(
        f"error: unexpected problem ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). "
        "Run with STUDIO_DEBUG=1 for details.",
        file=sys.stderr,
    )
    return 1
