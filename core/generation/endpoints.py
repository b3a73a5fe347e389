"""Which API key goes to which server: a key from the server's settings only ever goes to its own address.

Keys configured by the operator are bound to base URLs:

- `OPENAI_API_KEY` (environment or `.streamlit/secrets.toml`) belongs to `OPENAI_BASE_URL` (the same places), or to
  OpenAI's own address when that is not set: the endpoint named "openai";
- named endpoints in `.streamlit/secrets.toml`:

      [endpoints.groq]
      base_url = "https://api.groq.com/openai/v1"
      models = ["llama-3.1-8b-instant"]
      key_env = "GROQ_API_KEY"      # the variable (environment or secrets.toml) that holds its key

Two scopes decide what a request may use:

- `operator` (the CLI, the server operator's own tool): `OPENAI_API_KEY` with any `--base-url`, as documented;
- `endpoint` (everything started from a page, where a visitor types the address): a key typed in the same session
  for that address, else the configured key of the endpoint at exactly that address, else none — which a server on
  this machine does not need, and any other server is refused before a request is sent.

Workers learn their scope from their environment (`STUDIO_KEY_SCOPE`); a key typed on a page reaches its worker as
`STUDIO_SESSION_API_KEY`, next to the base URL it was typed for (`STUDIO_SESSION_BASE_URL`).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from core.secrets import get_secret, secrets_file_paths

DEFAULT_BASE_URL = "https://api.openai.com/v1"
PLACEHOLDER_KEY = "not-needed"
KeyScope = Literal["operator", "endpoint"]
SCOPE_ENV = "STUDIO_KEY_SCOPE"
SESSION_KEY_ENV = "STUDIO_SESSION_API_KEY"
SESSION_URL_ENV = "STUDIO_SESSION_BASE_URL"
_DEFAULT_PORTS = {"http": 80, "https": 443}


class KeyRefused(Exception):
    """No key may be sent to this address (the message says why and what to do)."""


@dataclass(frozen=True)
class Endpoint:
    name: str
    base_url: str
    models: tuple[str, ...] = ()
    key_env: str | None = None

    def key(self) -> str | None:
        return get_secret(self.key_env) if self.key_env else None


def normalize_url(base_url: str | None) -> str:
    """One spelling per address: scheme and host in lower case, the default port and a trailing slash dropped."""
    parts = urlsplit((base_url or DEFAULT_BASE_URL).strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = f":{parts.port}" if parts.port and parts.port != _DEFAULT_PORTS.get(scheme) else ""
    return f"{scheme}://{host}{port}{parts.path.rstrip('/')}"


def same_address(a: str | None, b: str | None) -> bool:
    return normalize_url(a) == normalize_url(b)


def is_local_url(base_url: str | None) -> bool:
    """A server on this machine (vLLM, Ollama, llama.cpp...): those need no key."""
    import ipaddress

    host = (urlsplit(base_url or DEFAULT_BASE_URL).hostname or "").lower()
    if host in {"localhost", "host.docker.internal"} or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _secrets_endpoints() -> list[Endpoint]:
    found: dict[str, Endpoint] = {}
    for path in reversed(secrets_file_paths()):  # the project's file wins over the home folder's
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            continue
        table = data.get("endpoints")
        if not isinstance(table, dict):
            continue
        for name, spec in table.items():
            if isinstance(spec, dict) and isinstance(spec.get("base_url"), str) and spec["base_url"].strip():
                models = spec.get("models") or []
                found[str(name)] = Endpoint(
                    name=str(name),
                    base_url=normalize_url(spec["base_url"]),
                    models=tuple(str(m) for m in models) if isinstance(models, list) else (),
                    key_env=str(spec["key_env"]) if spec.get("key_env") else None,
                )
    return list(found.values())


def configured_endpoints() -> list[Endpoint]:
    """The operator's endpoints: "openai" (when OPENAI_API_KEY is set), then those of secrets.toml."""
    endpoints = []
    if get_secret("OPENAI_API_KEY"):
        endpoints.append(
            Endpoint("openai", normalize_url(get_secret("OPENAI_BASE_URL") or DEFAULT_BASE_URL), (), "OPENAI_API_KEY")
        )
    endpoints += [e for e in _secrets_endpoints() if e.name != "openai" or not endpoints]
    return endpoints


def endpoint_at(base_url: str | None) -> Endpoint | None:
    wanted = normalize_url(base_url)
    return next((e for e in configured_endpoints() if e.base_url == wanted), None)


def endpoint_key(base_url: str | None) -> str | None:
    """The configured key of the endpoint at exactly this address, if any."""
    endpoint = endpoint_at(base_url)
    return endpoint.key() if endpoint is not None else None


def current_scope() -> KeyScope:
    return "endpoint" if os.environ.get(SCOPE_ENV) == "endpoint" else "operator"


def resolve_key(
    base_url: str | None, typed: str | None = None, *, scope: KeyScope | None = None, typed_for: str | None = None
) -> str:
    """The key to send to `base_url`, or KeyRefused. `typed` is a key a person gave for `typed_for` (default: this
    address); in the endpoint scope it is used only for that address."""
    scope = scope or current_scope()
    url = base_url or DEFAULT_BASE_URL
    if typed and (typed_for is None or same_address(typed_for, url)):
        return typed
    key = get_secret("OPENAI_API_KEY") if scope == "operator" else endpoint_key(url)
    if key:
        return key
    if is_local_url(url):
        return PLACEHOLDER_KEY
    if scope == "operator":
        raise KeyRefused(
            f"No API key for {url}: type one on the Generate page, or set OPENAI_API_KEY in the environment or in "
            ".streamlit/secrets.toml."
        )
    raise KeyRefused(
        f"No API key for {url}. Keys set up on the studio's server are only sent to their own addresses "
        f"({', '.join(e.base_url for e in configured_endpoints()) or 'none is set up'}): type a key for this server, "
        "or ask whoever runs the studio to add it as a named endpoint in .streamlit/secrets.toml."
    )


def session_key_env(typed: str | None, base_url: str | None) -> dict[str, str]:
    """The environment of a worker started from a page: the endpoint scope, and the key typed for `base_url`."""
    env = {SCOPE_ENV: "endpoint"}
    if typed:
        env[SESSION_KEY_ENV] = typed
        env[SESSION_URL_ENV] = normalize_url(base_url)
    return env


def worker_resolve_key(base_url: str | None) -> str:
    """In a worker: the typed key of its session (for its own address) or the bound key, by the worker's scope."""
    return resolve_key(base_url, os.environ.get(SESSION_KEY_ENV), typed_for=os.environ.get(SESSION_URL_ENV) or base_url)
