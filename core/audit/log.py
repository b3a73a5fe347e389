"""Reading the action log for the audit: entries with display names, project names and their change as text.

Values under a secret-looking key (password, token, api_key, ...) and any known secret value are replaced by
`[secret]` before an entry leaves this module, so neither the page nor an export can show one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from core.errors import InvalidInput
from core.secrets import SECRET_PARAM_NAMES, redact
from core.store import accounts as stored_accounts
from core.store import action_log
from core.store import projects as stored_projects
from core.store.action_log import Action, ActionQuery
from core.store.database import Store

SECRET = "[secret]"
DETAILS_WIDTH = 300  # characters of the summary; the export carries the full before and after
VALUE_WIDTH = 60
PROJECT_DELETE = "project.delete"


@dataclass(frozen=True)
class AuditFilter:
    """Which entries to read: everyone, every project and all time unless narrowed. Days are UTC days, both
    included."""

    username: str | None = None
    project_id: int | None = None
    since: date | None = None
    until: date | None = None


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime  # UTC
    username: str
    display_name: str  # the account's display name; the username where no account has it (personal mode)
    project_id: int | None
    project: str  # the project's name ("" for a studio-wide action)
    action: str
    target: str
    details: str  # the change in one line of text
    before: dict[str, Any] | None  # secrets replaced
    after: dict[str, Any] | None
    batch: str | None

    @property
    def who(self) -> str:
        """'Olga Owner (olga)', or just the username when it is also the display name."""
        return self.username if self.display_name == self.username else f"{self.display_name} ({self.username})"


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]  # the newest ones, at most the limit asked for
    total: int  # how many entries the filter keeps in all


@dataclass(frozen=True)
class AuditPerson:
    username: str
    display_name: str
    has_account: bool

    @property
    def label(self) -> str:
        return self.username if self.display_name == self.username else f"{self.display_name} ({self.username})"


@dataclass(frozen=True)
class AuditProject:
    id: int
    name: str
    deleted: bool

    @property
    def label(self) -> str:
        return f"{self.name} (deleted)" if self.deleted else self.name


def action_query(flt: AuditFilter) -> ActionQuery:
    """The log query for a filter; a first day after the last one is refused in words."""
    if flt.since is not None and flt.until is not None and flt.since > flt.until:
        raise InvalidInput(
            f"The first day ({flt.since.isoformat()}) is after the last day ({flt.until.isoformat()}): "
            "no entry could match. Swap them, or leave one empty."
        )
    return ActionQuery(
        who=flt.username.strip() if flt.username and flt.username.strip() else None,
        project_id=flt.project_id,
        since=datetime.combine(flt.since, time.min) if flt.since is not None else None,
        until=datetime.combine(flt.until + timedelta(days=1), time.min) if flt.until is not None else None,
    )


def read_page(store: Store, flt: AuditFilter, *, limit: int) -> AuditPage:
    query = action_query(flt)
    names = _Names.of(store)
    entries = [names.entry(action) for action in action_log.find_actions(store, query, limit=limit)]
    return AuditPage(entries=entries, total=action_log.count_actions(store, query))


def iter_entries(store: Store, flt: AuditFilter) -> Iterator[AuditEntry]:
    """Every entry the filter keeps, newest first (a generator: a long log is read in chunks)."""
    query = action_query(flt)
    names = _Names.of(store)
    for action in action_log.iter_actions(store, query):
        yield names.entry(action)


def people(store: Store) -> list[AuditPerson]:
    """Everyone with an account and everyone the log names, by display name."""
    found = {
        account.username: AuditPerson(account.username, account.display_name, True)
        for account in stored_accounts.list_accounts(store)
    }
    for username in action_log.who_in_log(store):
        found.setdefault(username, AuditPerson(username, username, False))
    return sorted(found.values(), key=lambda p: (p.display_name.casefold(), p.username))


def projects(store: Store) -> list[AuditProject]:
    """The projects there are, then those the log says were deleted (their entries stay in the log)."""
    names = _Names.of(store)
    current = [AuditProject(pid, name, False) for pid, name in names.projects.items()]
    gone = [AuditProject(pid, name, True) for pid, name in names.deleted.items() if pid not in names.projects]
    return sorted(current, key=lambda p: p.name.casefold()) + sorted(gone, key=lambda p: p.name.casefold())


@dataclass(frozen=True)
class _Names:
    """Display names of the accounts and names of the projects, read once for a whole page or export."""

    people: dict[str, str]
    projects: dict[int, str]
    deleted: dict[int, str]  # projects deleted since: their name when they were deleted

    @classmethod
    def of(cls, store: Store) -> _Names:
        deleted: dict[int, str] = {}
        for action in action_log.iter_actions(store, ActionQuery(actions=(PROJECT_DELETE,))):
            name = (action.before or {}).get("name")
            if action.project_id is not None and isinstance(name, str):
                deleted.setdefault(action.project_id, name)
        return cls(
            people={a.username: a.display_name for a in stored_accounts.list_accounts(store)},
            projects={p.id: p.name for p in stored_projects.list_projects(store)},
            deleted=deleted,
        )

    def project(self, project_id: int | None) -> str:
        if project_id is None:
            return ""
        if project_id in self.projects:
            return self.projects[project_id]
        if project_id in self.deleted:
            return f"{self.deleted[project_id]} (deleted)"
        return f"project #{project_id} (deleted)"

    def entry(self, action: Action) -> AuditEntry:
        before = scrub(action.before)
        after = scrub(action.after)
        return AuditEntry(
            id=action.id,
            at=action.at,
            username=action.who,
            display_name=self.people.get(action.who, action.who),
            project_id=action.project_id,
            project=self.project(action.project_id),
            action=action.action,
            target=action.target,
            details=summarize(before, after),
            before=before,
            after=after,
            batch=action.batch,
        )


def scrub(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """The values with every secret replaced: under a secret-looking key, or a known secret value in a text."""
    if values is None:
        return None
    return {str(key): _scrubbed(key, value) for key, value in values.items()}


def _scrubbed(key: object, value: Any) -> Any:
    if SECRET_PARAM_NAMES.search(str(key)) and value not in (None, "", False):
        return SECRET
    if isinstance(value, dict):
        return {str(k): _scrubbed(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed("", item) for item in value]
    if isinstance(value, str):
        return redact(value)
    return value


def summarize(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    """The change in one line: 'status: pending → accepted; label: weather → pests', what was added
    ('imported: 120'), or what was there before a removal ('before: name: Reviews; samples: 450')."""
    old, new = before or {}, after or {}
    parts: list[str] = []
    if old and new:
        for key in dict.fromkeys([*old, *new]):
            if key in old and key in new:
                if old[key] != new[key]:
                    parts.append(f"{key}: {_short(old[key])} → {_short(new[key])}")
            elif key in new:
                if new[key] not in (None, "", [], {}):  # an empty addition says nothing
                    parts.append(f"{key}: {_short(new[key])}")
            else:
                parts.append(f"{key}: {_short(old[key])} → (none)")
        text = "; ".join(parts) or "no change"
    elif new:
        text = "; ".join(f"{key}: {_short(value)}" for key, value in new.items())
    elif old:
        text = "before: " + "; ".join(f"{key}: {_short(value)}" for key, value in old.items())
    else:
        text = ""
    return _cut(text, DETAILS_WIDTH)


def _short(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value == "":
        return "(empty)"
    if isinstance(value, dict):
        if not value:
            return "none"
        name = value.get("name")
        return _cut(str(name), VALUE_WIDTH) if isinstance(name, str) else f"{len(value)} fields"
    if isinstance(value, list):
        if not value:
            return "none"
        if len(value) <= 5:
            return _cut(", ".join(_short(item) for item in value), VALUE_WIDTH)
        return f"{len(value)} items"
    return _cut(str(value), VALUE_WIDTH)


def _cut(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
