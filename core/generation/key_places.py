"""Where API keys go, for the Settings page: the servers set up by whoever runs the studio, by name and address,
and whether each has its key. Never a key itself."""

from __future__ import annotations

from dataclasses import dataclass

from core.generation.endpoints import configured_endpoints, is_local_url
from core.secrets import get_secret
from core.store.database import Store


@dataclass(frozen=True)
class ConfiguredServer:
    name: str
    base_url: str
    models: tuple[str, ...]
    key_variable: str | None  # the variable (environment or secrets.toml) that holds its key
    has_key: bool

    @property
    def key_state(self) -> str:
        if self.has_key:
            return f"set ({self.key_variable})"
        if is_local_url(self.base_url):
            return "not needed (this machine)"
        return f"missing: set {self.key_variable}" if self.key_variable else "missing: add key_env"


def configured_servers(store: Store | None = None) -> list[ConfiguredServer]:
    """The named endpoints: the server's settings', then (with a store) those owners added on the Team page."""
    return [
        ConfiguredServer(e.name, e.base_url, e.models, e.key_env, bool(e.key_env and get_secret(e.key_env)))
        for e in configured_endpoints(store)
    ]
