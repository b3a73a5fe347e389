"""The audit at the front door: owners read the action log narrowed by person, project and days, and take it away
as CSV or JSONL. Reading it is owner-only (`audit.read`), so these are marked @needs though they change nothing."""

from __future__ import annotations

from pathlib import Path

from core.audit import log
from core.audit.log import AuditEntry as AuditEntry
from core.audit.log import AuditFilter as AuditFilter
from core.audit.log import AuditPage as AuditPage
from core.audit.log import AuditPerson as AuditPerson
from core.audit.log import AuditProject as AuditProject
from core.front.actor import Actor
from core.front.permissions import needs
from core.io import audit_export
from core.io.audit_export import AUDIT_FORMATS as AUDIT_FORMATS
from core.io.audit_export import AUDIT_MIME_TYPES as AUDIT_MIME_TYPES
from core.io.audit_export import AuditFile as AuditFile
from core.store.schema import utcnow

PAGE_LIMIT = 500  # entries a page shows at most; the files hold them all


def audit_file_name(fmt: str) -> str:
    """The name a download of the audit log gets today ('audit-log-2025-03-31.csv')."""
    return audit_export.audit_file_name(fmt, utcnow().date())


@needs("audit.read")
def read_audit_log(actor: Actor, flt: AuditFilter, *, limit: int = PAGE_LIMIT) -> AuditPage:
    """The newest entries the filter keeps (at most `limit`) and how many it keeps in all."""
    return log.read_page(actor.store, flt, limit=limit)


@needs("audit.read")
def audit_people(actor: Actor) -> list[AuditPerson]:
    """Whom the log can be narrowed to: every account and everyone the log names."""
    return log.people(actor.store)


@needs("audit.read")
def audit_projects(actor: Actor) -> list[AuditProject]:
    """Which projects the log can be narrowed to, deleted ones included."""
    return log.projects(actor.store)


@needs("audit.read")
def audit_file(actor: Actor, flt: AuditFilter, fmt: str) -> AuditFile:
    """Every entry the filter keeps, newest first, as a CSV or JSONL file to download."""
    audit_export.check_format(fmt)
    return audit_export.audit_file(log.iter_entries(actor.store, flt), fmt, today=utcnow().date())


@needs("audit.read")
def save_audit_file(actor: Actor, flt: AuditFilter, fmt: str, out: Path) -> int:
    """Writes the entries the filter keeps to `out` (readable by its owner only); returns how many."""
    file = audit_file(actor, flt, fmt)
    audit_export.write_audit_file(Path(out), file)
    return file.entries
