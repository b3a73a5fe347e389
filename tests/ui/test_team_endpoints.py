"""Named LLM endpoints in the pages (AppTest, the real app and store, real HTTP servers on 127.0.0.1 recording every
request's headers): the Team page's section lets owners add, check and remove endpoints and shows everyone else the
list only; the picker of the Generate page and of LLM baselines offers the Team page's endpoints by name, and their key
goes to their address, from the page and from the job's worker process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from core.front.actor import Actor
from core.front.endpoints import EndpointSpec, add_endpoint, list_endpoints
from core.jobs.queue import get_job, list_jobs
from core.store import Store, open_store
from tests.openai_server import ScriptedOpenAIServer
from tests.page_text import texts
from tests.training_support import single_torch_thread

ROOT = Path(__file__).resolve().parents[2]
TEAM_KEY = "sk-team-page-endpoint-0123456789"
OTHER = "Another server (type its address and key)"


@pytest.fixture
def team_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """TEAM_API_KEY set on the server; no OPENAI_API_KEY and no secrets.toml in the working folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TEAM_API_KEY", TEAM_KEY)
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "STUDIO_KEY_SCOPE", "STUDIO_SESSION_API_KEY",
                 "STUDIO_SESSION_BASE_URL", "MISSING_API_KEY"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    return TEAM_KEY


def _authorizations(server: ScriptedOpenAIServer) -> set[str]:
    return {r.headers.get("authorization", "") for r in server.requests}


def _endpoint(name: str, base_url: str, models: tuple[str, ...] = (), key_env: str = "TEAM_API_KEY") -> None:
    store = open_store()
    add_endpoint(Actor.of(store), EndpointSpec(name, base_url, models, key_env))


def _project() -> None:
    import pandas as pd

    from core.front.data import ColumnMapping, execute_import, plan_import
    from core.front.projects import create_project, parse_spec

    me = Actor.of(open_store())
    project = create_project(me, parse_spec(name="Keys", labels=[{"name": "weather"}], languages=[{"code": "sw"}]))
    frame = pd.DataFrame([("Mvua itanyesha kesho?", "weather")], columns=["text", "label"])
    execute_import(me, project, plan_import(me, project, frame, ColumnMapping("text", "label", language="sw"), "x"))


def _generate_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/generate.py").run()
    assert not at.exception, at.exception
    at.selectbox(key="gen_backend").set_value("openai").run()
    return at


# --- the picker --------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_picker_offers_the_team_pages_endpoints_by_name_and_sends_their_key_to_them(
    team_key: str, studio_home: Path
) -> None:
    _project()
    with ScriptedOpenAIServer(require_key=team_key, models=["m1", "m2", "m3"]) as server:
        _endpoint("team", server.base_url, ("m1", "m2"))
        at = _generate_page()
        server_box = at.selectbox(key="gen_server")
        assert server_box.options == [f"team · {server.base_url}", OTHER]
        assert server_box.value == "team"  # named endpoints first
        assert at.selectbox(key="gen_model_team").options == ["m1", "m2", "another model (type its name)"]
        assert not any(t.label == "API key" for t in at.text_input)  # its key is the server's: nothing to type
        # a model the endpoint does not list, typed
        at.selectbox(key="gen_model_team").set_value("_other_model").run()
        at.text_input(key="gen_typed_model_team").input("m3").run()
        at.button(key="gen_check").click().run()
        assert not at.exception, at.exception
        assert "Connected: the server serves 'm3'" in texts(at.success)
        assert _authorizations(server) == {f"Bearer {team_key}"}
        # another server: its address and key are typed, as before
        at.selectbox(key="gen_server").set_value("_other").run()
        assert [t.label for t in at.text_input if t.label in ("Server address (base URL)", "API key")] == [
            "Server address (base URL)", "API key"
        ]  # fmt: skip


def test_a_named_endpoint_whose_key_is_not_on_the_server_cannot_start(team_key: str, studio_home: Path) -> None:
    _project()
    _endpoint("gone", "https://gone.example/v1", ("m1",), "MISSING_API_KEY")
    at = _generate_page()
    assert at.selectbox(key="gen_server").value == "gone"
    assert "the endpoint gone takes its key from MISSING_API_KEY" in texts(at.warning)
    assert at.button(key="gen_check").disabled
    assert next(b for b in at.button if b.label == "Start generating").disabled


@pytest.mark.slow
def test_an_llm_baseline_picks_the_same_named_endpoint_and_its_worker_sends_the_key(
    team_key: str, sqlite_store: Store, tiny_encoder: Path
) -> None:
    from tests.ui.test_evaluate_page import button, open_page, scripted, trained_project, wait_for_job

    with single_torch_thread():
        project = trained_project(sqlite_store, tiny_encoder)
    with ScriptedOpenAIServer(responder=scripted, require_key=team_key) as server:
        _endpoint("team", server.base_url, ("test-model",))
        at = open_page()
        button(at, "New LLM baseline").click().run()
        next(s for s in at.selectbox if s.label == "Who writes the samples").set_value("openai").run()
        server_box = next(s for s in at.selectbox if s.label == "Server")
        assert server_box.options == [f"team · {server.base_url}", OTHER]
        assert server_box.value == "team"
        button(at, "Start the baseline").click().run()
        assert not at.exception, at.exception
        [job] = list_jobs(open_store(), project.id, kind="baseline")
        wait_for_job(at, job.id)
        assert get_job(open_store(), job.id).status == "done", get_job(open_store(), job.id).message
        assert server.chat_requests
        assert _authorizations(server) == {f"Bearer {team_key}"}
    for path in Path(open_store().url.removeprefix("sqlite:///")).parent.rglob("*"):
        if path.is_file():
            assert TEAM_KEY.encode() not in path.read_bytes(), path


# --- the Team page's section -------------------------------------------------------------------------------------


def _section_script(role: str) -> None:
    from components.feedback import show_flash
    from components.team_endpoints import endpoints_section
    from core.front.actor import Actor
    from core.store import open_store

    show_flash()
    endpoints_section(Actor(open_store(), "olga" if role == "owner" else "lena", role, team=True))


def _section(role: str) -> AppTest:
    at = AppTest.from_function(_section_script, args=(role,), default_timeout=30)
    at.run()
    assert not at.exception, at.exception
    return at


def _table(at: AppTest) -> Any:
    [frame] = at.dataframe
    return frame.value


def test_owners_add_check_and_remove_an_endpoint_in_the_team_section(team_key: str, studio_home: Path) -> None:
    at = _section("owner")
    assert "No endpoint yet" in texts(at.info)
    with ScriptedOpenAIServer(require_key=team_key, models=["m1", "m2"]) as server:
        at.text_input(key="ep_new_name").input("team")
        at.text_input(key="ep_new_url").input(server.base_url + "/")
        at.text_area(key="ep_new_models").input("m1\nm2, m9")
        at.text_input(key="ep_new_key_env").input("TEAM_API_KEY")
        at.button(key="FormSubmitter:ep_add-Add the endpoint").click().run()
        assert not at.exception, at.exception
        assert f"Added the endpoint team at {server.base_url}." in texts(at.success)
        table = _table(at)
        assert table[["name", "address", "models", "key from", "key on the server", "set"]].values.tolist() == [
            ["team", server.base_url, "m1, m2, m9", "TEAM_API_KEY", "yes (TEAM_API_KEY is set)", "set on the Team page"]
        ]
        assert at.text_input(key="ep_new_name").value == ""  # the form starts afresh
        at.button(key="ep_check").click().run()
        assert not at.exception, at.exception
        assert "Connected: the server serves 2 model(s): m1, m2." in texts(at.success)
        assert "Listed here but not served there: m9." in texts(at.warning)
        assert _authorizations(server) == {f"Bearer {team_key}"}

    # a mistake is said in words, and nothing is added
    at.text_input(key="ep_new_name").input("elsewhere")
    at.text_input(key="ep_new_url").input("https://elsewhere.example/v1")
    at.button(key="FormSubmitter:ep_add-Add the endpoint").click().run()
    assert "is not on this machine, so it needs a key" in texts(at.error)
    assert [v.name for v in list_endpoints(Actor.of(open_store()))] == ["team"]

    assert at.button(key="ep_remove").disabled  # not before saying yes
    at.checkbox(key="ep_remove_sure_team").check().run()
    at.button(key="ep_remove").click().run()
    assert not at.exception, at.exception
    assert "Removed the endpoint team." in texts(at.success)
    assert list_endpoints(Actor.of(open_store())) == []
    assert "No endpoint yet" in texts(at.info)


def test_an_owner_changes_an_endpoint_in_the_team_section(team_key: str, studio_home: Path) -> None:
    _endpoint("team", "https://team.example/v1", ("m1",))
    at = _section("owner")
    at.text_input(key="ep_url_team").input("http://127.0.0.1:8000/v1")
    at.text_area(key="ep_models_team").input("qwen")
    at.text_input(key="ep_key_env_team").input("")
    at.button(key="FormSubmitter:ep_change_team-Save the changes").click().run()
    assert not at.exception, at.exception
    assert "The endpoint team is saved (http://127.0.0.1:8000/v1)." in texts(at.success)
    [view] = list_endpoints(Actor.of(open_store()))
    assert (view.base_url, view.models, view.key_env, view.key_state) == (
        "http://127.0.0.1:8000/v1", ("qwen",), "", "not needed (a server on this machine)"
    )  # fmt: skip


def test_others_see_the_endpoints_and_the_servers_files_ones_as_read_only_but_no_form(
    team_key: str, studio_home: Path, tmp_path: Path
) -> None:
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text(
        '[endpoints.vllm]\nbase_url = "http://127.0.0.1:8000/v1"\nmodels = ["qwen"]\n', encoding="utf-8"
    )
    _endpoint("team", "https://team.example/v1", ("m1",))
    at = _section("lead")
    assert _table(at)[["name", "set", "key on the server"]].values.tolist() == [
        ["vllm", "set in secrets.toml (read only)", "not needed (a server on this machine)"],
        ["team", "set on the Team page", "yes (TEAM_API_KEY is set)"],
    ]
    assert "Only an owner can add, change or remove endpoints." in texts(at.caption)
    assert not at.text_input and not at.text_area
    assert [b.key for b in at.button] == ["ep_check"]  # a lead may check a connection
    # an owner sees forms only for the Team page's endpoint
    owner = _section("owner")
    assert owner.selectbox(key="ep_pick").options == ["team"]


def test_the_settings_page_lists_the_team_pages_endpoints_too(team_key: str, studio_home: Path) -> None:
    _endpoint("lab-vllm", "http://10.1.2.3:8000/v1", ("Qwen2.5-7B-Instruct",))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/settings.py").run()
    assert not at.exception, at.exception
    servers = next(frame.value for frame in at.dataframe if "address" in frame.value.columns)
    row = servers[servers["name"] == "lab-vllm"].iloc[0]
    assert (row["address"], row["models"]) == ("http://10.1.2.3:8000/v1", "Qwen2.5-7B-Instruct")
    assert team_key not in servers.to_string()  # whether a key is set, never the key
