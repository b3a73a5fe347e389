"""The whole loop in a real browser on a fresh data folder (tests/loop_walk.py): create a project, import, generate
with a local OpenAI-protocol server, check, review with the keyboard, train, evaluate, pick a cell, generate more.
Fails on any exception box, any None/nan shown as text, or any page not idle within 10 s."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import reset_settings
from core.store import open_store
from core.store.projects import list_projects
from core.store.samples import SampleFilter, count_samples
from tests.browser_support import launch_browser, running_studio
from tests.loop_walk import PROJECT, Walk, llm_answer
from tests.openai_server import ScriptedOpenAIServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

playwright_api = pytest.importorskip("playwright.sync_api")


def test_a_newcomer_walks_the_whole_loop(studio_home: Path, tiny_encoder: Path, tmp_path: Path) -> None:
    extra = {"STUDIO_DEFAULT_ENCODER": str(tiny_encoder), "OMP_NUM_THREADS": "1"}
    with (
        ScriptedOpenAIServer(responder=llm_answer) as llm,
        running_studio(studio_home, demo=False, extra_env=extra) as url,
        launch_browser() as browser,
    ):
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        Walk(page, url, llm.base_url, expect=playwright_api.expect).run(tmp_path / "farm_messages.csv")
        asked = len(llm.chat_requests)

    reset_settings()
    store = open_store()
    [project] = list_projects(store)
    assert project.name == PROJECT and asked >= 4
    assert count_samples(store, project.id, SampleFilter(origins=("synthetic",))) >= 24
    assert count_samples(store, project.id, SampleFilter(statuses=("accepted",), origins=("synthetic",))) >= 24
