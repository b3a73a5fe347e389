"""Named LLM endpoints at the front door: owners add, change and remove the ones kept in the store (the Team page);
everyone sees them all, those of the server's files (secrets.toml, OPENAI_API_KEY) as read only, and whether each
one's key is set on the server now (never the key)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.front.actor import Actor
from core.front.permissions import needs, reads
from core.generation import endpoints
from core.generation.endpoints import Endpoint as Endpoint
from core.generation.endpoints import EndpointSpec as EndpointSpec
from core.generation.endpoints import parse_models as parse_models
from core.store import endpoints as stored

__all__ = [
    "Endpoint",
    "EndpointSpec",
    "EndpointView",
    "add_endpoint",
    "change_endpoint",
    "list_endpoints",
    "parse_models",
    "remove_endpoint",
]


@dataclass(frozen=True)
class EndpointView:
    """One endpoint as the Team page shows it."""

    name: str
    base_url: str
    models: tuple[str, ...]
    key_env: str  # where its key comes from (the variable's name); empty: none
    where: str  # "set on the Team page", "set in secrets.toml (read only)"...
    editable: bool  # kept in the store: owners change it on the Team page
    key_available: bool  # its key is set on the server now (or a server on this machine needs none)
    key_state: str  # the same in words
    in_use: bool  # offered on the pages (False: it clashes with an endpoint of the server's files)
    note: str  # why it is not in use
    changed_by: str  # who last changed it (store endpoints)
    changed_at: datetime | None


def _key_state(endpoint: Endpoint) -> tuple[bool, str]:
    if endpoint.has_key:
        return True, f"yes ({endpoint.key_env} is set)"
    if endpoint.is_local:
        return True, "not needed (a server on this machine)"
    if endpoint.key_env:
        return False, f"no: {endpoint.key_env} is not set on the server"
    return False, "no: no variable is named for its key"


def _view(endpoint: Endpoint, rows: dict[str, stored.StoredEndpoint], note: str = "") -> EndpointView:
    available, state = _key_state(endpoint)
    row = rows.get(endpoint.name) if endpoint.source == "store" else None
    return EndpointView(
        name=endpoint.name,
        base_url=endpoint.base_url,
        models=endpoint.models,
        key_env=endpoint.key_env or "",
        where=endpoint.where,
        editable=not endpoint.read_only,
        key_available=available,
        key_state=state,
        in_use=not note,
        note=note,
        changed_by=row.updated_by if row else "",
        changed_at=row.updated_at if row else None,
    )


@reads
def list_endpoints(actor: Actor) -> list[EndpointView]:
    """Every endpoint: those in use (the server's files first, then the Team page's), then the Team page's that
    clash with the server's files, each with the reason."""
    rows = {row.name: row for row in stored.list_endpoints(actor.store)}
    in_use = [_view(e, rows) for e in endpoints.configured_endpoints(actor.store)]
    return in_use + [_view(e, rows, why) for e, why in endpoints.left_out_endpoints(actor.store)]


@needs("endpoints.manage")
def add_endpoint(actor: Actor, spec: EndpointSpec) -> Endpoint:
    """A new named endpoint (name, address, models, the variable that holds its key: never the key)."""
    return endpoints.add_endpoint(actor.store, spec)


@needs("endpoints.manage")
def change_endpoint(actor: Actor, name: str, spec: EndpointSpec) -> Endpoint:
    return endpoints.change_endpoint(actor.store, name, spec)


@needs("endpoints.manage")
def remove_endpoint(actor: Actor, name: str) -> None:
    endpoints.remove_endpoint(actor.store, name)
