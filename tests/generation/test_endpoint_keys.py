"""A key from the server's settings only ever goes to its own address (issue: the Generate page's "Check the
connection" sent OPENAI_API_KEY to any base URL a visitor typed). Real HTTP servers on 127.0.0.1 record the
Authorization header of every request; real worker processes; the CLI keeps its documented contract."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.generation.endpoints import (
    DEFAULT_BASE_URL,
    PLACEHOLDER_KEY,
    KeyRefused,
    configured_endpoints,
    resolve_key,
    session_key_env,
)
from core.generation.openai_backend import OpenAIBackend
from core.io.importer import ColumnMapping, execute_import, plan_import
from core.store import generation_runs, open_store
from core.store.projects import create_project, parse_spec
from tests.openai_server import ScriptedOpenAIServer
from tests.page_text import texts

ROOT = Path(__file__).resolve().parents[2]
SERVER_KEY = "sk-server-secret-0123456789"
GROQ_KEY = "gsk-named-endpoint-987654321"


@pytest.fixture
def server_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """OPENAI_API_KEY set on the studio's server; the working folder has no secrets.toml of its own."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OPENAI_API_KEY", SERVER_KEY)
    for name in ("OPENAI_BASE_URL", "STUDIO_KEY_SCOPE", "STUDIO_SESSION_API_KEY", "STUDIO_SESSION_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return SERVER_KEY


def _secrets(folder: Path, text: str) -> None:
    (folder / ".streamlit").mkdir(exist_ok=True)
    (folder / ".streamlit" / "secrets.toml").write_text(text, encoding="utf-8")


def _authorizations(server: ScriptedOpenAIServer) -> set[str]:
    return {r.headers.get("authorization", "") for r in server.requests}


def test_from_a_page_the_server_key_goes_only_to_its_own_address(server_key: str) -> None:
    assert resolve_key(None, scope="endpoint") == server_key  # OpenAI itself: the key's own address
    assert resolve_key("https://API.openai.com:443/v1/", scope="endpoint") == server_key  # the same address
    with pytest.raises(KeyRefused, match=r"only sent to their own addresses \(https://api.openai.com/v1\)"):
        resolve_key("https://attacker.example/v1", scope="endpoint")
    assert resolve_key("http://127.0.0.1:9/v1", scope="endpoint") == PLACEHOLDER_KEY  # a local server needs none
    assert resolve_key("https://attacker.example/v1", "sk-typed", scope="endpoint") == "sk-typed"  # typed for it
    # a key typed for one address is not sent to another
    with pytest.raises(KeyRefused):
        resolve_key("https://attacker.example/v1", "sk-typed", scope="endpoint", typed_for=DEFAULT_BASE_URL)


def test_the_cli_keeps_its_contract_the_key_goes_with_base_url(server_key: str) -> None:
    assert resolve_key("https://my-vllm.example/v1", scope="operator") == server_key
    assert resolve_key("http://127.0.0.1:9/v1", scope="operator") == server_key


def test_openai_base_url_and_named_endpoints_bind_their_keys(
    server_key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "https://gateway.example/v1")
    monkeypatch.setenv("GROQ_API_KEY", GROQ_KEY)
    _secrets(
        tmp_path,
        '[endpoints.groq]\nbase_url = "https://api.groq.com/openai/v1/"\nmodels = ["llama-3.1-8b-instant"]\n'
        'key_env = "GROQ_API_KEY"\n',
    )
    assert [(e.name, e.base_url, e.models) for e in configured_endpoints()] == [
        ("openai", "https://gateway.example/v1", ()),
        ("groq", "https://api.groq.com/openai/v1", ("llama-3.1-8b-instant",)),
    ]
    assert resolve_key("https://gateway.example/v1", scope="endpoint") == server_key
    assert resolve_key("https://api.groq.com/openai/v1", scope="endpoint") == GROQ_KEY
    with pytest.raises(KeyRefused):  # OPENAI_BASE_URL moved the key away from OpenAI's own address
        resolve_key(DEFAULT_BASE_URL, scope="endpoint")


def test_a_worker_from_a_page_sends_no_server_key_to_a_typed_address(
    server_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a page-started worker does (its environment from session_key_env), against a real capturing server."""

    async def models(backend: OpenAIBackend) -> list[str]:
        async with backend:
            return await backend.list_models()

    with ScriptedOpenAIServer() as server:
        for name, value in session_key_env(None, None).items():
            monkeypatch.setenv(name, value)
        asyncio.run(models(OpenAIBackend(server.base_url)))
        # a key typed for OpenAI and a run at another address (a resume of someone else's run): not sent there
        for name, value in session_key_env("sk-typed-for-openai", None).items():
            monkeypatch.setenv(name, value)
        asyncio.run(models(OpenAIBackend(server.base_url)))
        # the same key typed for this very address: sent
        for name, value in session_key_env("sk-typed-here", server.base_url).items():
            monkeypatch.setenv(name, value)
        asyncio.run(models(OpenAIBackend(server.base_url)))
        seen = [r.headers.get("authorization") for r in server.requests]
    assert seen == [f"Bearer {PLACEHOLDER_KEY}", f"Bearer {PLACEHOLDER_KEY}", "Bearer sk-typed-here"]


def _generate_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/generate.py").run()
    assert not at.exception, at.exception
    return at


def _project() -> None:
    store = open_store()
    project = create_project(store, parse_spec(name="Keys", labels=[{"name": "weather"}], languages=[{"code": "sw"}]))
    frame = pd.DataFrame([("Mvua itanyesha kesho?", "weather")], columns=["text", "label"])
    execute_import(
        store, project, plan_import(store, project, frame, ColumnMapping("text", "label", language="sw"), "x")
    )


def test_the_generate_page_never_sends_the_server_key_to_a_typed_address(server_key: str, studio_home: Path) -> None:
    _project()
    with ScriptedOpenAIServer() as server:
        at = _generate_page()
        at.selectbox(key="gen_backend").set_value("openai").run()
        assert at.selectbox(key="gen_server").options == [
            "openai · https://api.openai.com/v1",
            "Another server (type its address and key)",
        ]
        at.selectbox(key="gen_server").set_value("_other").run()
        at.text_input(key="gen_base_url").input(server.base_url).run()
        at.text_input(key="gen_model").input("test-model").run()
        at.button(key="gen_check").click().run()
        assert not at.exception, at.exception
        assert "Connected: the server serves 'test-model'" in texts(at.success)
        next(n for n in at.number_input if n.label == "Default per cell").set_value(2).run()
        next(b for b in at.button if b.label == "Start generating").click().run()
        assert not at.exception, at.exception
        [run] = generation_runs.list_runs(open_store(), 1)
        deadline = time.monotonic() + 60
        while (
            generation_runs.get_run(open_store(), run.id).status in ("planned", "running")
            and time.monotonic() < deadline
        ):
            time.sleep(0.2)
        assert generation_runs.get_run(open_store(), run.id).status == "done"
        assert len(server.chat_requests) >= 1
        assert _authorizations(server) == {f"Bearer {PLACEHOLDER_KEY}"}  # the server's key never went there


def test_the_page_refuses_an_address_it_has_no_key_for(server_key: str, studio_home: Path) -> None:
    _project()
    at = _generate_page()
    at.selectbox(key="gen_backend").set_value("openai").run()
    at.selectbox(key="gen_server").set_value("_other").run()
    at.text_input(key="gen_base_url").input("https://attacker.example/v1").run()
    assert "No API key for https://attacker.example/v1" in texts(at.warning)
    assert at.button(key="gen_check").disabled
    assert next(b for b in at.button if b.label == "Start generating").disabled
    at.text_input(key="openai_api_key").input("sk-my-own").run()  # a key typed for it: fine
    assert not at.button(key="gen_check").disabled
    assert "No API key" not in texts(at.warning)


def test_the_configured_endpoint_is_offered_with_its_models(
    server_key: str, studio_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ScriptedOpenAIServer(require_key=GROQ_KEY, models=["m1", "m2"]) as server:
        monkeypatch.setenv("GROQ_API_KEY", GROQ_KEY)
        _secrets(
            tmp_path,
            f'[endpoints.team]\nbase_url = "{server.base_url}"\nmodels = ["m1", "m2"]\nkey_env = "GROQ_API_KEY"\n',
        )
        _project()
        at = _generate_page()
        at.selectbox(key="gen_backend").set_value("openai").run()
        at.selectbox(key="gen_server").set_value("team").run()
        assert at.selectbox(key="gen_model_team").options == ["m1", "m2", "another model (type its name)"]
        at.button(key="gen_check").click().run()
        assert not at.exception, at.exception
        assert "Connected" in texts(at.success)
        assert _authorizations(server) == {f"Bearer {GROQ_KEY}"}  # its own key, to its own address
