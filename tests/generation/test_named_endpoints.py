"""Named LLM endpoints that owners keep in the store (issue 17, item 6): owners add, change and remove them, nobody
else may; the key is never stored, only the name of the variable that holds it; the key goes to its own endpoint's
address (from a page, from a real worker process started by a run) and to no other. Real SQLite and PostgreSQL, real
HTTP servers on 127.0.0.1 that record every request's headers."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import MetaData, select

from core.errors import InvalidInput, NotFound, PermissionDenied
from core.front.accounts import add_account, add_project_member
from core.front.actor import Actor
from core.front.data import ColumnMapping, execute_import, plan_import
from core.front.endpoints import (
    EndpointSpec,
    add_endpoint,
    change_endpoint,
    list_endpoints,
    remove_endpoint,
)
from core.front.generation import GenerationSettings, check_key, check_server, configured_endpoints, launch_generation
from core.front.projects import create_project, parse_spec
from core.generation.backends import make_backend
from core.generation.endpoints import PLACEHOLDER_KEY, KeyRefused, resolve_key, session_key_env
from core.generation.llm_backend import BackendError
from core.store import Store, generation_runs
from core.store.schema import ActionRow
from tests.openai_server import ScriptedOpenAIServer

TEAM_KEY = "sk-team-endpoint-key-0123456789"
OTHER_KEY = "sk-other-endpoint-key-9876543210"
ELSEWHERE = "https://elsewhere.example/v1"


@pytest.fixture
def team_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """TEAM_API_KEY set on the server; no OPENAI_API_KEY, no secrets.toml, no session key of a page."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TEAM_API_KEY", TEAM_KEY)
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "STUDIO_KEY_SCOPE", "STUDIO_SESSION_API_KEY",
                 "STUDIO_SESSION_BASE_URL", "MISSING_API_KEY"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    return TEAM_KEY


def _secrets(folder: Path, text: str) -> None:
    (folder / ".streamlit").mkdir(exist_ok=True)
    (folder / ".streamlit" / "secrets.toml").write_text(text, encoding="utf-8")


def _owner(store: Store) -> Actor:
    return Actor(store, "olga", "owner", team=True)


def _authorizations(server: ScriptedOpenAIServer) -> set[str]:
    return {r.headers.get("authorization", "") for r in server.requests}


def _everything_stored(store: Store) -> str:
    """Every value of every row of every table, as one text (to look for a key in it)."""
    metadata = MetaData()
    metadata.reflect(store.engine)
    with store.engine.connect() as connection:
        return "\n".join(
            repr(tuple(row)) for table in metadata.tables.values() for row in connection.execute(select(table))
        )


# --- keys go to their own address ------------------------------------------------------------------------------


def test_a_named_endpoints_key_reaches_its_own_server_and_no_other(team_key: str, sqlite_store: Store) -> None:
    owner = _owner(sqlite_store)
    lead = Actor(sqlite_store, "lena", "lead", team=True)
    with (
        ScriptedOpenAIServer(require_key=team_key, models=["m1", "m2"]) as team,
        ScriptedOpenAIServer(models=["m1"]) as other,
    ):
        add_endpoint(owner, EndpointSpec("team", team.base_url + "/", ("m1", "m2"), "TEAM_API_KEY"))
        assert [(e.name, e.base_url, e.models, e.source) for e in configured_endpoints(lead)] == [
            ("team", team.base_url, ("m1", "m2"), "store")
        ]
        # a lead picks it by name: "Check the connection" sends its key to its address
        report = asyncio.run(check_server(lead, team.base_url, None, "m1"))
        assert report.serves_model
        assert _authorizations(team) == {f"Bearer {team_key}"}
        # another address on this machine gets no key at all; one elsewhere is refused before anything is sent
        asyncio.run(check_server(lead, other.base_url, None, "m1"))
        assert _authorizations(other) == {f"Bearer {PLACEHOLDER_KEY}"}
        with pytest.raises(KeyRefused, match=r"only sent to their own addresses \(http://127\.0\.0\.1:\d+/v1\)"):
            check_key(lead, ELSEWHERE, None)
        # a key typed for another address is not sent to the endpoint's either way round
        with pytest.raises(KeyRefused):
            resolve_key(ELSEWHERE, "sk-typed", scope="endpoint", typed_for=team.base_url, store=sqlite_store)
    assert TEAM_KEY not in _everything_stored(sqlite_store)


def test_a_worker_sees_the_stores_endpoints_through_its_store(
    team_key: str, sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a page-started worker does (endpoint scope, no typed key): the key of the endpoint at the run's address,
    found through the store the worker works on; without that store, nothing is bound to the address."""
    add_endpoint(_owner(sqlite_store), EndpointSpec("team", "https://team.example/v1", (), "TEAM_API_KEY"))
    for name, value in session_key_env(None, None).items():
        monkeypatch.setenv(name, value)

    async def models(base_url: str) -> list[str]:
        backend = make_backend("openai", "m1", base_url, store=sqlite_store)
        async with backend:  # type: ignore[attr-defined]
            return await backend.list_models()  # type: ignore[attr-defined,no-any-return]

    with ScriptedOpenAIServer(require_key=team_key) as team, ScriptedOpenAIServer() as other:
        change_endpoint(_owner(sqlite_store), "team", EndpointSpec("team", team.base_url, (), "TEAM_API_KEY"))
        asyncio.run(models(team.base_url))
        asyncio.run(models(other.base_url))
        assert _authorizations(team) == {f"Bearer {team_key}"}
        assert _authorizations(other) == {f"Bearer {PLACEHOLDER_KEY}"}
    with pytest.raises(BackendError, match=r"No API key for https://team\.example/v1"):  # its old address: nothing
        make_backend("openai", "m1", "https://team.example/v1", store=sqlite_store)


@pytest.mark.slow
def test_a_run_started_by_a_lead_sends_the_endpoints_key_from_its_worker_process(
    team_key: str, store: Store, studio_home: Path
) -> None:
    """The whole way: an owner sets the endpoint up, a lead starts a run on it as the Generate page does (the worker's
    environment has no key, only the endpoint scope), a real worker process sends the requests."""
    add_account(Actor.of(store), "olga", "owner", "a long enough password 1")
    owner = _owner(store)
    add_account(owner, "lena", "lead", "a long enough password 2")
    project = create_project(owner, parse_spec(name="keys", labels=[{"name": "weather"}], languages=[{"code": "sw"}]))
    frame = pd.DataFrame([("Mvua itanyesha kesho?", "weather")], columns=["text", "label"])
    execute_import(
        owner, project, plan_import(owner, project, frame, ColumnMapping("text", "label", language="sw"), "x")
    )
    add_project_member(owner, project.id, "lena")
    lead = Actor(store, "lena", "lead", team=True)
    with ScriptedOpenAIServer(require_key=team_key) as team:
        add_endpoint(owner, EndpointSpec("team", team.base_url, ("test-model",), "TEAM_API_KEY"))
        [endpoint] = configured_endpoints(lead)
        settings = GenerationSettings(backend="openai", model="test-model", base_url=endpoint.base_url, per_cell=2)
        env = session_key_env(None, endpoint.base_url)
        assert TEAM_KEY not in repr(env)
        run = launch_generation(lead, project, settings, extra_env=env).run
        deadline = time.monotonic() + 60
        while generation_runs.get_run(store, run.id).status in ("planned", "running") and time.monotonic() < deadline:
            time.sleep(0.2)
        finished = generation_runs.get_run(store, run.id)
        assert finished.status == "done", finished.message
        assert team.chat_requests
        assert _authorizations(team) == {f"Bearer {team_key}"}
    assert TEAM_KEY not in _everything_stored(store)
    logs = "".join(p.read_text(encoding="utf-8", errors="replace") for p in studio_home.rglob("*.log"))
    assert TEAM_KEY not in logs


def test_a_named_endpoint_without_its_key_on_the_server_says_which_variable_to_set(
    team_key: str, sqlite_store: Store
) -> None:
    add_endpoint(_owner(sqlite_store), EndpointSpec("gone", "https://gone.example/v1", (), "MISSING_API_KEY"))
    with pytest.raises(KeyRefused, match=r"the endpoint gone takes its key from MISSING_API_KEY, which is not set"):
        check_key(Actor(sqlite_store, "lena", "lead", team=True), "https://gone.example/v1", None)
    [view] = list_endpoints(Actor(sqlite_store, "vic", "viewer", team=True))
    assert (view.key_available, view.key_state) == (False, "no: MISSING_API_KEY is not set on the server")


# --- owners manage them; nobody else may ---------------------------------------------------------------------


def test_owners_add_change_and_remove_endpoints_and_nobody_else_may(team_key: str, store: Store) -> None:
    owner = _owner(store)
    spec = EndpointSpec(
        " groq ", "HTTPS://API.Groq.com:443/openai/v1/", ("llama-3.1-8b", "llama-3.1-8b", " "), "TEAM_API_KEY"
    )
    for role in ("lead", "annotator", "viewer"):
        someone = Actor(store, "sam", role, team=True)
        with pytest.raises(
            PermissionDenied, match=rf"managing the LLM endpoints needs the role owner; sam is an? {role}"
        ):
            add_endpoint(someone, spec)
    assert list_endpoints(owner) == []

    added = add_endpoint(owner, spec)
    assert (added.name, added.base_url, added.models, added.key_env) == (
        "groq", "https://api.groq.com/openai/v1", ("llama-3.1-8b",), "TEAM_API_KEY"
    )  # fmt: skip
    [view] = list_endpoints(Actor(store, "vic", "viewer", team=True))
    assert (view.name, view.where, view.editable, view.in_use, view.key_available, view.key_state, view.changed_by) == (
        "groq", "set on the Team page", True, True, True, "yes (TEAM_API_KEY is set)", "olga"
    )  # fmt: skip

    for role in ("lead", "annotator", "viewer"):
        someone = Actor(store, "sam", role, team=True)
        with pytest.raises(PermissionDenied):
            change_endpoint(someone, "groq", EndpointSpec("groq", "https://evil.example/v1", (), "TEAM_API_KEY"))
        with pytest.raises(PermissionDenied):
            remove_endpoint(someone, "groq")
    assert [(v.name, v.base_url) for v in list_endpoints(owner)] == [("groq", "https://api.groq.com/openai/v1")]

    changed = change_endpoint(owner, "groq", EndpointSpec("fast", "http://127.0.0.1:8000/v1", ("m",), ""))
    assert (changed.name, changed.base_url, changed.models, changed.key_env) == (
        "fast", "http://127.0.0.1:8000/v1", ("m",), None
    )  # fmt: skip
    [view] = list_endpoints(owner)
    assert (view.name, view.key_available, view.key_state) == ("fast", True, "not needed (a server on this machine)")
    remove_endpoint(owner, "fast")
    assert list_endpoints(owner) == []
    with pytest.raises(NotFound, match="There is no endpoint named fast"):
        remove_endpoint(owner, "fast")

    with store.session() as session:
        logged = [(r.action, r.who, r.target) for r in session.scalars(select(ActionRow).order_by(ActionRow.id))]
    assert logged == [
        ("endpoint.add", "olga", "groq"),
        ("endpoint.edit", "olga", "groq"),
        ("endpoint.remove", "olga", "fast"),
    ]
    assert TEAM_KEY not in _everything_stored(store)


def test_one_endpoint_per_name_per_address_and_per_key_variable(team_key: str, store: Store) -> None:
    owner = _owner(store)
    add_endpoint(owner, EndpointSpec("team", "https://team.example/v1", (), "TEAM_API_KEY"))
    with pytest.raises(InvalidInput, match="The name team is taken by an endpoint set on the Team page"):
        add_endpoint(owner, EndpointSpec("team", "https://two.example/v1", (), "TWO_API_KEY"))
    with pytest.raises(InvalidInput, match=r"The endpoint team \(set on the Team page\) is already at https://team"):
        add_endpoint(owner, EndpointSpec("two", "https://TEAM.example/v1/", (), "TWO_API_KEY"))
    with pytest.raises(InvalidInput, match="TEAM_API_KEY is already the key of the endpoint team at https://team"):
        add_endpoint(owner, EndpointSpec("two", "https://two.example/v1", (), "TEAM_API_KEY"))
    add_endpoint(owner, EndpointSpec("two", "https://two.example/v1", (), "TWO_API_KEY"))
    with pytest.raises(InvalidInput, match="The name team is taken"):  # a rename onto another endpoint's name
        change_endpoint(owner, "two", EndpointSpec("team", "https://two.example/v1", (), "TWO_API_KEY"))
    # changing an endpoint does not clash with itself
    change_endpoint(owner, "team", EndpointSpec("team", "https://team.example/v1", ("m",), "TEAM_API_KEY"))
    assert [(v.name, v.models) for v in list_endpoints(owner)] == [("team", ("m",)), ("two", ())]


def test_endpoints_of_the_servers_files_are_read_only_and_win_a_clash(
    team_key: str, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = _owner(store)
    add_endpoint(owner, EndpointSpec("groq", "https://api.groq.com/openai/v1", (), "TEAM_API_KEY"))
    _secrets(tmp_path, '[endpoints.groq]\nbase_url = "https://api.groq.com/openai/v1"\nkey_env = "GROQ_API_KEY"\n'
             '[endpoints.vllm]\nbase_url = "http://127.0.0.1:8000/v1"\nmodels = ["qwen"]\n')  # fmt: skip
    monkeypatch.setenv("OPENAI_API_KEY", "sk-operator-0123456789")
    views = list_endpoints(owner)
    assert [(v.name, v.where, v.editable, v.in_use) for v in views] == [
        ("openai", "set by OPENAI_API_KEY on the server (read only)", False, True),
        ("groq", "set in secrets.toml (read only)", False, True),
        ("vllm", "set in secrets.toml (read only)", False, True),
        ("groq", "set on the Team page", True, False),  # the operator's file came later and wins
    ]
    assert "The name groq is taken by an endpoint set in secrets.toml (read only)" in views[-1].note
    # the key of the file's groq goes to groq, not the Team page's TEAM_API_KEY
    with pytest.raises(KeyRefused, match="takes its key from GROQ_API_KEY"):
        resolve_key("https://api.groq.com/openai/v1", scope="endpoint", store=store)
    with pytest.raises(InvalidInput, match=r"The name vllm is taken by an endpoint set in secrets.toml \(read only\)"):
        add_endpoint(owner, EndpointSpec("vllm", "http://127.0.0.1:9000/v1", (), ""))
    with pytest.raises(InvalidInput, match=r"The endpoint vllm \(set in secrets.toml \(read only\)\) is already at"):
        add_endpoint(owner, EndpointSpec("local", "HTTP://127.0.0.1:8000/v1/", (), ""))
    with pytest.raises(InvalidInput, match="OPENAI_API_KEY is already the key of the endpoint openai"):
        add_endpoint(owner, EndpointSpec("proxy", "https://proxy.example/v1", (), "OPENAI_API_KEY"))
    with pytest.raises(InvalidInput, match="set up in the server's files"):
        remove_endpoint(owner, "vllm")
    with pytest.raises(InvalidInput, match="set up in the server's files"):
        change_endpoint(owner, "openai", EndpointSpec("openai", "https://proxy.example/v1", (), "OPENAI_API_KEY"))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (EndpointSpec("", "https://a.example/v1", (), "A_API_KEY"), "letters, digits, - and _ only"),
        (EndpointSpec("my team", "https://a.example/v1", (), "A_API_KEY"), "letters, digits, - and _ only"),
        (EndpointSpec("OpenAI", "https://a.example/v1", (), "A_API_KEY"), "kept for OPENAI_API_KEY's own endpoint"),
        (EndpointSpec("a", "api.groq.com/openai/v1", (), "A_API_KEY"), "must start with http:// or https://"),
        (EndpointSpec("a", "ftp://a.example/v1", (), "A_API_KEY"), "must start with http:// or https://"),
        (EndpointSpec("a", "https://user:pw@a.example/v1", (), "A_API_KEY"), "no user name or password"),
        (EndpointSpec("a", "https://a.example:port/v1", (), "A_API_KEY"), "port that is not a number"),
        (EndpointSpec("a", "https://a.example/v1?x=1", (), "A_API_KEY"), "ends at its path"),
        (EndpointSpec("a", "https://a.example/v1", (), ""), "is not on this machine, so it needs a key"),
        (EndpointSpec("a", "https://a.example/v1", (), "sk-abc 123"), "letters, digits and _"),
        (EndpointSpec("a", "https://a.example/v1", (), "STUDIO_SESSION_API_KEY"), "the studio's own settings"),
        (EndpointSpec("a", "https://a.example/v1", (), "gsk_1234567890abcdefXYZ"), "ends with KEY or TOKEN"),
        (EndpointSpec("a", "https://a.example/v1", (), "DATABASE_URL"), "ends with KEY or TOKEN"),
    ],
)
def test_what_an_owner_types_is_checked_in_plain_words(
    team_key: str, sqlite_store: Store, spec: EndpointSpec, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message) as refused:
        add_endpoint(_owner(sqlite_store), spec)
    assert "gsk_1234567890abcdefXYZ" not in str(refused.value)  # a key pasted by mistake is not repeated
    assert list_endpoints(_owner(sqlite_store)) == []
