"""Named LLM endpoints set up by owners: name, address, models and the name of the variable that holds the key.

The key itself is never stored: only where the server finds it (an environment variable or a `.streamlit/secrets.toml`
entry). The rules (what a name, an address or a key variable may be) are in core.generation.endpoints; this module
keeps the rows (each change in the action log, with the variable's name, never a key) and turns a duplicate name
or address into a message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from core.errors import InvalidInput, NotFound
from core.store.action_log import record
from core.store.database import Store
from core.store.locks import hold_write_lock
from core.store.schema import LlmEndpointRow, utcnow

LOCK_SCOPE = "llm_endpoints"


@dataclass(frozen=True)
class StoredEndpoint:
    id: int
    name: str
    base_url: str
    models: tuple[str, ...]
    key_env: str  # empty: no key
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str


def _endpoint(row: LlmEndpointRow) -> StoredEndpoint:
    return StoredEndpoint(
        id=row.id,
        name=row.name,
        base_url=row.base_url,
        models=tuple(str(m) for m in row.models or []),
        key_env=row.key_env,
        created_at=row.created_at,
        created_by=row.created_by,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def list_endpoints(store: Store) -> list[StoredEndpoint]:
    """Oldest first (an older endpoint wins a conflict with a newer one)."""
    with store.session() as session:
        return [_endpoint(row) for row in session.scalars(select(LlmEndpointRow).order_by(LlmEndpointRow.id))]


def find_endpoint(store: Store, name: str) -> StoredEndpoint | None:
    with store.session() as session:
        row = session.scalar(select(LlmEndpointRow).where(LlmEndpointRow.name == name))
        return _endpoint(row) if row else None


def _logged(row: LlmEndpointRow) -> dict[str, object]:
    return {"name": row.name, "base_url": row.base_url, "models": list(row.models or []), "key_env": row.key_env}


def _taken(rows: Sequence[LlmEndpointRow], name: str, base_url: str, skip_id: int | None) -> str | None:
    for row in rows:
        if row.id == skip_id:
            continue
        if row.name == name:
            return f"There is already an endpoint named {name}: pick another name, or change that one."
        if row.base_url == base_url:
            return f"The endpoint {row.name} is already at {base_url}: change that one instead of adding another."
    return None


def insert_endpoint(store: Store, *, name: str, base_url: str, models: Sequence[str], key_env: str) -> StoredEndpoint:
    """A new endpoint; InvalidInput when its name or address is taken (checked under the endpoints' write lock)."""
    now = utcnow()
    try:
        with store.session() as session:
            hold_write_lock(session, LOCK_SCOPE, 0)
            problem = _taken(list(session.scalars(select(LlmEndpointRow))), name, base_url, None)
            if problem:
                raise InvalidInput(problem)
            row = LlmEndpointRow(
                name=name,
                base_url=base_url,
                models=list(models),
                key_env=key_env,
                created_at=now,
                created_by=store.user,
                updated_at=now,
                updated_by=store.user,
            )
            session.add(row)
            session.flush()
            record(session, who=store.user, action="endpoint.add", target=name, after=_logged(row))
            return _endpoint(row)
    except IntegrityError:  # added at the same moment elsewhere
        raise InvalidInput(f"There is already an endpoint named {name} or at {base_url}.") from None


def update_endpoint(
    store: Store, name: str, *, new_name: str, base_url: str, models: Sequence[str], key_env: str
) -> StoredEndpoint:
    try:
        with store.session() as session:
            hold_write_lock(session, LOCK_SCOPE, 0)
            rows = list(session.scalars(select(LlmEndpointRow)))
            row = next((r for r in rows if r.name == name), None)
            if row is None:
                raise NotFound(f"There is no endpoint named {name} (someone may have removed it).")
            problem = _taken(rows, new_name, base_url, row.id)
            if problem:
                raise InvalidInput(problem)
            before = _logged(row)
            row.name = new_name
            row.base_url = base_url
            row.models = list(models)
            row.key_env = key_env
            row.updated_at = utcnow()
            row.updated_by = store.user
            session.flush()
            record(session, who=store.user, action="endpoint.edit", target=name, before=before, after=_logged(row))
            return _endpoint(row)
    except IntegrityError:
        raise InvalidInput(f"There is already an endpoint named {new_name} or at {base_url}.") from None


def delete_endpoint(store: Store, name: str) -> bool:
    """False when there was none of that name."""
    with store.session() as session:
        row = session.scalar(select(LlmEndpointRow).where(LlmEndpointRow.name == name))
        if row is None:
            return False
        record(session, who=store.user, action="endpoint.remove", target=name, before=_logged(row))
        session.execute(delete(LlmEndpointRow).where(LlmEndpointRow.id == row.id))
        return True
