"""User and LLM text is shown as text on every page: image links, links, $maths$, HTML and <script> in sample
texts, raw LLM answers, label names and descriptions, project, run and model names. A real `streamlit run` server,
Debian's chromium driven by Playwright, and a local HTTP server that counts every request the pages might make."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from core.cli import main as cli
from core.evaluation.run_evaluation import evaluate_run
from core.generation.engine import GenerationSettings, execute_run, start_run
from core.generation.openai_backend import OpenAIBackend
from core.io.importer import ColumnMapping, execute_import, plan_import
from core.jobs.runner import run_job
from core.store import Store
from core.store.projects import Project, create_project, get_project, parse_spec
from core.training.launch import TrainingRequest, start_training
from tests.browser_support import IDLE, launch_browser, running_studio
from tests.openai_server import ScriptedOpenAIServer
from tests.training_support import sample_rows, single_torch_thread

pytestmark = pytest.mark.e2e

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


class _Counter(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.hits.append(self.path)  # type: ignore[attr-defined]
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Trap:
    """An HTTP server on 127.0.0.1 that the hostile texts point at: any hit means a page fetched or linked it."""

    port: int
    hits: list[str] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def trap() -> Iterator[Trap]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    server.hits = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield Trap(server.server_address[1], server.hits)  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class Hostile:
    project: str
    task: str
    label: str
    description: str
    run: str
    model: str
    suffix: str  # appended to sample texts

    @classmethod
    def at(cls, origin: str) -> Hostile:
        return cls(
            project=f"**Proj** [p]({origin}/project) <i>x</i> :smile:",
            task=f"Task ![t]({origin}/task.png) $\\alpha$ <img src='{origin}/task-html.png'>",
            label=f"**lbl** ![l]({origin}/label.png) [lnk]({origin}/label-link) $y^2$ <b>lb</b> <script>x()</script>",
            description=f'<img src="{origin}/desc.png"> [d]({origin}/desc-link) $z$ :material/check: {origin}/bare',
            run=f"<b>run</b> [r]({origin}/run)",
            model=f"model ![m]({origin}/model.png)",
            suffix=(
                f'![t]({origin}/text.png) [click]({origin}/text-link) $a^2$ <img src="{origin}/text-html.png"> '
                f"<script>fetch('{origin}/script')</script> <a href=\"{origin}/a\">a</a>"
            ),
        )


def _import(store: Store, project: Project, rows: list[dict[str, str]]) -> None:
    frame = pd.DataFrame(rows)
    mapping = ColumnMapping(text_column="text", label_column="label", language_column="language")
    plan = plan_import(store, project, frame, mapping, source="hostile rows")
    assert plan.ok, [p.describe() for p in plan.errors]
    execute_import(store, project, plan)


def hostile_project(store: Store, encoder: Path, bad: Hostile, server: ScriptedOpenAIServer) -> Project:
    """The training tests' project with a hostile label, names and texts; checked, trained, evaluated, and with a
    generation run whose raw answers are hostile too."""
    labels = {"weather": "weather", "price": bad.label, "disease": "disease"}
    spec = parse_spec(
        name=bad.project,
        task=bad.task,
        labels=[{"name": new, "description": bad.description} for new in labels.values()],
        languages=[{"code": "en"}, {"code": "sw"}],
        encoder=str(encoder),
    )
    project = create_project(store, spec)
    rows = [{**row, "label": labels[row["label"]], "text": f"{row['text']} {bad.suffix}"} for row in sample_rows()]
    # a repeat and a label leak among the pending synthetic samples: the Repeats tab and the flags show them
    rows += [
        {"text": f"{bad.label} rain {bad.suffix}", "label": "weather", "language": "en", "split": "train",
         "origin": "synthetic", "status": "pending"},
    ] * 2  # fmt: skip
    _import(store, project, rows)
    assert cli(["flag", "--project", str(project.id), "--threshold", "0.999"]) == 0
    _, job = start_training(store, project.id, TrainingRequest(name=bad.run, trainer="linear"))
    assert run_job(store, job.id) == "done"
    evaluate_run(store, project.id, bad.run)
    settings = GenerationSettings(
        backend="openai", model=bad.model, base_url=server.base_url, per_cell=2, per_request=2, seed=3,
        languages=["en"], labels=["weather"],
    )  # fmt: skip
    run = start_run(store, project.id, settings)
    execute_run(store, run.id, OpenAIBackend(server.base_url, "sk-local"))
    return get_project(store, project.id)


def _plain(text: str) -> str:
    return " ".join(text.replace("\u2060", "").split())


def check_page(page, trap: Trap, literals: list[str], where: str) -> None:  # type: ignore[no-untyped-def]
    """Each literal text is on the page as it was written; nothing the hostile texts name was requested or linked,
    and no maths or HTML was drawn from them."""
    wanted = [_plain(literal) for literal in literals]
    deadline = time.monotonic() + 30
    while True:  # the idle marker can come before the last elements are drawn: wait for the texts
        shown = _plain(page.locator("body").inner_text())
        if page.locator("svg").count():
            shown += " " + _plain(" ".join(page.locator("svg").all_text_contents()))
        missing = [text for text in wanted if text not in shown]
        if not missing or time.monotonic() > deadline:
            break
        page.wait_for_timeout(300)
    assert not missing, f"{where}: not shown as written: {missing}"
    page.wait_for_timeout(500)  # images and fonts start loading as soon as the DOM has them
    assert trap.hits == [], f"{where}: the page requested {trap.hits}"
    linked = page.locator(f'a[href*="127.0.0.1:{trap.port}"], img[src*="127.0.0.1:{trap.port}"]')
    assert linked.count() == 0, f"{where}: {linked.count()} links or images to the hostile address"
    assert page.locator(".katex").count() == 0, f"{where}: maths was drawn"
    assert page.locator("b:has-text('lb'), b:has-text('run'), i:has-text('x')").count() == 0, f"{where}: HTML drawn"


def _idle(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector(IDLE, timeout=60_000)


def _open(page, url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(url)
    _idle(page)


def _tab(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("tab", name=re.compile(f"^{re.escape(name)}")).click()
    _idle(page)


def test_hostile_texts_are_shown_as_text_on_every_page(  # type: ignore[no-untyped-def]
    studio_home: Path, sqlite_store: Store, tiny_encoder: Path, trap: Trap, tmp_path: Path
) -> None:
    bad = Hostile.at(trap.origin)
    answer = f"1. Mvua {bad.suffix}\n2. Jua {bad.suffix}"
    with ScriptedOpenAIServer(models=[bad.model], responder=lambda body: answer) as server, single_torch_thread():
        project = hostile_project(sqlite_store, tiny_encoder, bad, server)
        llm_url = server.base_url
    sample_text = next(r["text"] for r in sample_rows() if r["status"] == "pending") + f" {bad.suffix}"
    with running_studio(studio_home, demo=False) as url, launch_browser() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 2200}, accept_downloads=True)
        outside = []
        page.on("request", lambda r: outside.append(r.url) if f":{trap.port}" in r.url else None)
        base = f"{url}/{{}}?project={project.id}"

        _open(page, base.format("projects"))
        check_page(page, trap, [bad.task, f"Edit '{bad.project}'"], "Projects")

        _open(page, base.format("data"))
        check_page(page, trap, [], "Data")

        _open(page, base.format("curate"))
        check_page(page, trap, [sample_text, bad.label, f"weather: {bad.description}"], "Curate: Review")
        for tab in ("Browse & bulk", "Repeats", "Threshold", "Overview"):
            _tab(page, tab)
            literals = {"Repeats": [bad.suffix], "Overview": [bad.label]}.get(tab, [])
            check_page(page, trap, literals, f"Curate: {tab}")

        _open(page, base.format("generate"))
        page.get_by_text("Requests and raw answers").click()
        _idle(page)
        check_page(page, trap, [f"{bad.model} at {llm_url}"], "Generate")

        _open(page, base.format("train"))
        page.get_by_text("Delete this run").click()
        _idle(page)
        check_page(page, trap, [f"Delete {bad.run}"], "Train")

        _open(page, base.format("evaluate"))
        expect(page.locator('[data-testid="stTable"]')).to_be_visible(timeout=30_000)
        check_page(page, trap, [bad.suffix, bad.label], "Evaluate")

        with page.expect_download() as download:
            page.get_by_role("button", name="Download the report (HTML)").click()
        report = tmp_path / "report.html"
        download.value.save_as(report)
        page.goto(report.as_uri())
        check_page(page, trap, [f"Evaluation report · {bad.project}", bad.label, bad.run], "HTML report")
        assert "Content-Security-Policy" in report.read_text(encoding="utf-8")
    assert outside == [], f"the browser asked the hostile address for {outside}"
