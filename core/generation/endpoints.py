"""Which API key goes to which server: a key from the server's settings only ever goes to its own address.

Keys configured by the operator are bound to base URLs:

- `OPENAI_API_KEY` (environment or `.streamlit/secrets.toml`) belongs to `OPENAI_BASE_URL` (the same places), or to
  OpenAI's own address when that is not set: the endpoint named "openai";
- named endpoints in `.streamlit/secrets.toml`:

      [endpoints.groq]
      base_url = "https://api.groq.com/openai/v1"
      models = ["llama-3.1-8b-instant"]
      key_env = "GROQ_API_KEY"      # the variable (environment or secrets.toml) that holds its key

- named endpoints that owners set up on the Team page, kept in the store in the same form (name, address, models,
  the name of the variable that holds the key; never the key). They join the ones above unless their name, their
  address or their key variable is already taken by one of them (the operator's files win).

Two scopes decide what a request may use:

- `operator` (the CLI, the server operator's own tool): `OPENAI_API_KEY` with any `--base-url`, as documented;
- `endpoint` (everything started from a page, where a visitor types the address): a key typed in the same session
  for that address, else the configured key of the endpoint at exactly that address, else none — which a server on
  this machine does not need, and any other server is refused before a request is sent.

Workers learn their scope from their environment (`STUDIO_KEY_SCOPE`); a key typed on a page reaches its worker as
`STUDIO_SESSION_API_KEY`, next to the base URL it was typed for (`STUDIO_SESSION_BASE_URL`). A worker sees the
store's endpoints through the store it works on (`worker_resolve_key(base_url, store)`): a run keeps only its
address, and the key goes to whichever endpoint is at exactly that address when the worker starts.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from core.errors import InvalidInput, NotFound
from core.secrets import get_secret, secrets_file_paths
from core.store import endpoints as stored
from core.store.database import Store

DEFAULT_BASE_URL = "https://api.openai.com/v1"
PLACEHOLDER_KEY = "not-needed"
KeyScope = Literal["operator", "endpoint"]
SCOPE_ENV = "STUDIO_KEY_SCOPE"
SESSION_KEY_ENV = "STUDIO_SESSION_API_KEY"
SESSION_URL_ENV = "STUDIO_SESSION_BASE_URL"
_DEFAULT_PORTS = {"http": 80, "https": 443}
EndpointSource = Literal["environment", "secrets", "store"]
SOURCE_WORDS: dict[EndpointSource, str] = {
    "environment": "set by OPENAI_API_KEY on the server (read only)",
    "secrets": "set in secrets.toml (read only)",
    "store": "set on the Team page",
}
RESERVED_NAMES = ("openai",)  # OPENAI_API_KEY's own endpoint
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,59}")  # a bare key of TOML: [endpoints.NAME]
KEY_ENV_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,199}")
KEY_ENV_ENDING = re.compile(r"(KEY|TOKEN)$", re.IGNORECASE)  # as secrets' names end: kept out of logs (core.secrets)


class KeyRefused(Exception):
    """No key may be sent to this address (the message says why and what to do)."""


@dataclass(frozen=True)
class Endpoint:
    name: str
    base_url: str
    models: tuple[str, ...] = ()
    key_env: str | None = None
    source: EndpointSource = "secrets"

    def key(self) -> str | None:
        return get_secret(self.key_env) if self.key_env else None

    @property
    def has_key(self) -> bool:
        """Whether its key is set on this server now (the key itself is never shown)."""
        return bool(self.key())

    @property
    def is_local(self) -> bool:
        """On this machine: it needs no key."""
        return is_local_url(self.base_url)

    @property
    def read_only(self) -> bool:
        """Set up in the server's files (changed there), not on the Team page."""
        return self.source != "store"

    @property
    def where(self) -> str:
        return SOURCE_WORDS[self.source]


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


def operator_endpoints() -> list[Endpoint]:
    """The operator's endpoints: "openai" (when OPENAI_API_KEY is set), then those of secrets.toml."""
    endpoints = []
    if get_secret("OPENAI_API_KEY"):
        endpoints.append(
            Endpoint(
                "openai",
                normalize_url(get_secret("OPENAI_BASE_URL") or DEFAULT_BASE_URL),
                (),
                "OPENAI_API_KEY",
                "environment",
            )
        )
    endpoints += [e for e in _secrets_endpoints() if e.name != "openai" or not endpoints]
    return endpoints


def _from_store(row: stored.StoredEndpoint) -> Endpoint:
    return Endpoint(row.name, row.base_url, row.models, row.key_env or None, "store")


def conflict(candidate: Endpoint, earlier: Sequence[Endpoint]) -> str | None:
    """Why `candidate` cannot be used beside `earlier` (None: it can): one endpoint per name and per address, and a
    key variable belongs to one address."""
    for other in earlier:
        if other.name == candidate.name:
            return f"The name {candidate.name} is taken by an endpoint {other.where}: pick another name."
        if other.base_url == candidate.base_url:
            return (
                f"The endpoint {other.name} ({other.where}) is already at {candidate.base_url}: "
                "use that one, or change it."
            )
        if candidate.key_env and other.key_env == candidate.key_env:
            return (
                f"{candidate.key_env} is already the key of the endpoint {other.name} at {other.base_url}, and a "
                "key only ever goes to its own address: name another variable."
            )
    return None


def _merged(store: Store | None) -> tuple[list[Endpoint], list[tuple[Endpoint, str]]]:
    """The endpoints in use (the operator's, then the store's, oldest first) and the store's left out, with why."""
    endpoints = operator_endpoints()
    left_out: list[tuple[Endpoint, str]] = []
    if store is not None:
        for endpoint in map(_from_store, stored.list_endpoints(store)):
            problem = conflict(endpoint, endpoints)
            if problem:
                left_out.append((endpoint, problem))
            else:
                endpoints.append(endpoint)
    return endpoints, left_out


def configured_endpoints(store: Store | None = None) -> list[Endpoint]:
    """The endpoints whose keys are bound to their addresses: the operator's, and with a store the ones owners set up
    on the Team page (those that clash with the operator's are left out: `left_out_endpoints` says why)."""
    return _merged(store)[0]


def left_out_endpoints(store: Store) -> list[tuple[Endpoint, str]]:
    """The store's endpoints that are not used, each with the reason (a name, address or key variable taken)."""
    return _merged(store)[1]


def endpoint_at(base_url: str | None, store: Store | None = None) -> Endpoint | None:
    wanted = normalize_url(base_url)
    return next((e for e in configured_endpoints(store) if e.base_url == wanted), None)


def endpoint_key(base_url: str | None, store: Store | None = None) -> str | None:
    """The configured key of the endpoint at exactly this address, if any."""
    endpoint = endpoint_at(base_url, store)
    return endpoint.key() if endpoint is not None else None


# Endpoints that owners manage (the front door checks who asks)


@dataclass(frozen=True)
class EndpointSpec:
    """What an owner types: checked and normalized by `checked_spec`."""

    name: str
    base_url: str
    models: tuple[str, ...] = ()
    key_env: str = ""


def parse_models(text: str | Sequence[str]) -> tuple[str, ...]:
    """Model names from a list, or from text with one per line or separated by commas; blanks and repeats dropped."""
    items = re.split(r"[,\n]", text) if isinstance(text, str) else list(text)
    return tuple(dict.fromkeys(m.strip() for m in items if m.strip()))


def checked_spec(spec: EndpointSpec) -> EndpointSpec:
    """The spec with its address normalized, or InvalidInput saying what to change."""
    name = spec.name.strip()
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidInput(
            "An endpoint's name has letters, digits, - and _ only (at most 60, starting with a letter or digit), "
            "as in [endpoints.NAME]: for example groq or team-vllm."
        )
    if name.lower() in RESERVED_NAMES:
        raise InvalidInput(f"The name {name} is kept for OPENAI_API_KEY's own endpoint: pick another name.")
    raw_url = spec.base_url.strip()
    parts = urlsplit(raw_url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise InvalidInput(
            "The address must start with http:// or https:// and name a server, for example "
            "https://api.groq.com/openai/v1 or http://127.0.0.1:8000/v1 (no user name or password in it)."
        )
    try:
        base_url = normalize_url(raw_url)
    except ValueError:  # a port that is not a number
        raise InvalidInput(f"The address {raw_url} has a port that is not a number.") from None
    if parts.query or parts.fragment:
        raise InvalidInput("The address ends at its path (no ?... or #...): for example https://api.groq.com/openai/v1")
    models = parse_models(spec.models)
    if any(len(m) > 200 for m in models):
        raise InvalidInput("A model name has at most 200 characters.")
    key_env = spec.key_env.strip()
    if key_env:
        if not KEY_ENV_PATTERN.fullmatch(key_env):
            raise InvalidInput(
                "Where the key comes from is the name of an environment variable or of an entry in "
                ".streamlit/secrets.toml: letters, digits and _ (for example GROQ_API_KEY). Never the key itself."
            )
        if key_env.upper().startswith("STUDIO_"):
            raise InvalidInput(f"{key_env} is one of the studio's own settings, not a key: name the key's variable.")
        if not KEY_ENV_ENDING.search(key_env):
            raise InvalidInput(  # the name is not repeated: it may be a key pasted by mistake
                "Where the key comes from is the name of a variable that ends with KEY or TOKEN (for example "
                "GROQ_API_KEY), so that the studio treats its value as a secret and keeps it out of logs. Never the "
                "key itself."
            )
    elif not is_local_url(base_url):
        raise InvalidInput(
            f"{base_url} is not on this machine, so it needs a key: name the environment variable or the "
            "secrets.toml entry that holds it (for example GROQ_API_KEY)."
        )
    return EndpointSpec(name, base_url, models, key_env)


def _usable_beside_others(store: Store, spec: EndpointSpec, replacing: str | None) -> None:
    candidate = Endpoint(spec.name, spec.base_url, spec.models, spec.key_env or None, "store")
    in_use = [e for e in configured_endpoints(store) if not (e.source == "store" and e.name == replacing)]
    problem = conflict(candidate, in_use)
    if problem:
        raise InvalidInput(problem)


def add_endpoint(store: Store, spec: EndpointSpec) -> Endpoint:
    """A new endpoint in the store; InvalidInput when it is not valid or clashes with another endpoint."""
    spec = checked_spec(spec)
    _usable_beside_others(store, spec, None)
    row = stored.insert_endpoint(
        store, name=spec.name, base_url=spec.base_url, models=spec.models, key_env=spec.key_env
    )
    return _from_store(row)


def _stored_or_refuse(store: Store, name: str) -> stored.StoredEndpoint:
    row = stored.find_endpoint(store, name)
    if row is not None:
        return row
    if any(e.name == name for e in operator_endpoints()):
        raise InvalidInput(
            f"The endpoint {name} is set up in the server's files (secrets.toml or OPENAI_API_KEY): "
            "whoever runs the studio changes it there."
        )
    raise NotFound(f"There is no endpoint named {name} (someone may have removed it).")


def change_endpoint(store: Store, name: str, spec: EndpointSpec) -> Endpoint:
    """The store's endpoint `name` becomes `spec` (which may rename it)."""
    _stored_or_refuse(store, name)
    spec = checked_spec(spec)
    _usable_beside_others(store, spec, name)
    row = stored.update_endpoint(
        store, name, new_name=spec.name, base_url=spec.base_url, models=spec.models, key_env=spec.key_env
    )
    return _from_store(row)


def remove_endpoint(store: Store, name: str) -> None:
    _stored_or_refuse(store, name)
    if not stored.delete_endpoint(store, name):
        raise NotFound(f"There is no endpoint named {name} (someone may have removed it).")


def current_scope() -> KeyScope:
    return "endpoint" if os.environ.get(SCOPE_ENV) == "endpoint" else "operator"


def resolve_key(
    base_url: str | None,
    typed: str | None = None,
    *,
    scope: KeyScope | None = None,
    typed_for: str | None = None,
    store: Store | None = None,
) -> str:
    """The key to send to `base_url`, or KeyRefused. `typed` is a key a person gave for `typed_for` (default: this
    address); in the endpoint scope it is used only for that address. `store`: its endpoints count too."""
    scope = scope or current_scope()
    url = base_url or DEFAULT_BASE_URL
    if typed and (typed_for is None or same_address(typed_for, url)):
        return typed
    key = get_secret("OPENAI_API_KEY") if scope == "operator" else endpoint_key(url, store)
    if key:
        return key
    if is_local_url(url):
        return PLACEHOLDER_KEY
    if scope == "operator":
        raise KeyRefused(
            f"No API key for {url}: type one on the Generate page, or set OPENAI_API_KEY in the environment or in "
            ".streamlit/secrets.toml."
        )
    endpoint = endpoint_at(url, store)
    if endpoint is not None:  # a named endpoint whose key is not set on this server (now)
        raise KeyRefused(
            f"No API key for {url}: the endpoint {endpoint.name} takes its key from "
            f"{endpoint.key_env or 'nowhere (no variable is named)'}, which is not set on the studio's server. "
            "Ask whoever runs the studio to set it, or type a key for this server."
        )
    raise KeyRefused(
        f"No API key for {url}. Keys set up on the studio's server are only sent to their own addresses "
        f"({', '.join(e.base_url for e in configured_endpoints(store)) or 'none is set up'}): type a key for this "
        "server, or ask an owner to add it as a named endpoint on the Team page (or in .streamlit/secrets.toml)."
    )


def session_key_env(typed: str | None, base_url: str | None) -> dict[str, str]:
    """The environment of a worker started from a page: the endpoint scope, and the key typed for `base_url`."""
    env = {SCOPE_ENV: "endpoint"}
    if typed:
        env[SESSION_KEY_ENV] = typed
        env[SESSION_URL_ENV] = normalize_url(base_url)
    return env


def worker_resolve_key(base_url: str | None, store: Store | None = None) -> str:
    """In a worker: the typed key of its session (for its own address) or the bound key, by the worker's scope
    (`store`: the one the worker works on, whose endpoints count too)."""
    return resolve_key(
        base_url,
        os.environ.get(SESSION_KEY_ENV),
        typed_for=os.environ.get(SESSION_URL_ENV) or base_url,
        store=store,
    )
