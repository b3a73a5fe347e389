"""The whole loop in a real browser, as a newcomer walks it on a fresh data folder: create a project -> import a
small human train/test file -> generate with a local OpenAI-protocol server -> check the samples -> review with the
keyboard -> train the linear probe -> read the evaluation -> pick a confusion cell -> generate more there.

Every page visited is checked: no exception box, no `None`/`nan`/`NaT` shown as text, idle within 10 s. The same walk
takes the README's screenshots (`scripts/screenshots.py`); the test (`test_browser_loop.py`) takes none.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.browser_support import IDLE

PROJECT = "Farm SMS"
IDLE_WITHIN_MS = 10_000
# a cell of text that is only a missing value, as a page would show it by mistake
_MISSING = re.compile(r"(?<![\w-])(None|nan|NaN|NaT)(?![\w-])")
CUES = {
    "weather": {
        "en": ["rain", "drought", "storm", "sunny", "cloudy", "forecast"],
        "sw": ["mvua", "ukame", "dhoruba", "jua", "mawingu", "hali ya hewa"],
    },
    "prices": {
        "en": ["price", "market", "buyer", "cost", "sell", "cheap"],
        "sw": ["bei", "soko", "mnunuzi", "gharama", "kuuza", "rahisi"],
    },
}


def human_rows() -> str:
    """A CSV of people's samples: per language and label, 4 for training and 6 for the test. Two Swahili price
    questions of the test speak of the weather (a market closed by the rain): the model takes them for weather,
    which gives the matrix a confused cell to open and to generate more for."""
    lines = ["text,label,language,split"]
    for label, by_language in CUES.items():
        for language, words in by_language.items():
            for i in range(10):
                said = CUES["weather"]["sw"] if (label, language) == ("prices", "sw") and i in (5, 8) else words
                word, other = said[i % len(said)], said[(i + 2) % len(said)]
                text = f"{word} {other} today number {i}" if language == "en" else f"{word} {other} leo nambari {i}"
                lines.append(f"{text},{label},{language},{'train' if i < 4 else 'test'}")
    return "\n".join(lines) + "\n"


def llm_answer(body: dict[str, Any]) -> str:
    """What the test server's LLM writes: a numbered list with the cue words of the label and language it was asked
    for (read from the prompt), so the small model has something to learn."""
    users = [m for m in body.get("messages", []) if isinstance(m, dict) and m.get("role") == "user"]
    prompt = str(users[-1].get("content", "")) if users else ""
    named = re.search(r'label "([^"]+)"', prompt)
    label = named.group(1) if named and named.group(1) in CUES else "weather"
    language = "sw" if "Swahili" in prompt else "en"
    asked = re.search(r"Write (\d{1,3})", prompt)
    n = min(20, int(asked.group(1))) if asked else 5
    words = CUES[label][language]
    tag = abs(hash(prompt)) % 10_000
    return "\n".join(f"{i}. {words[i % len(words)]} {words[(i + 3) % len(words)]} {tag} {i}" for i in range(1, n + 1))


@dataclass
class Walk:
    page: Any  # a Playwright page
    url: str
    llm_url: str
    shots: Path | None = None
    expect: Callable[..., Any] | None = None

    # --- checks done on every page ---------------------------------------------------------------------------------
    def idle(self) -> None:
        self.page.wait_for_selector(IDLE, timeout=IDLE_WITHIN_MS)

    def check(self, where: str) -> None:
        self.idle()
        errors = self.page.locator('[data-testid="stException"]')
        assert errors.count() == 0, f"{where}: an exception box: {errors.first.inner_text()[:500]}"
        shown = self.page.locator('[data-testid="stMain"]').inner_text()
        # tables are drawn on a canvas; their cells are also in the DOM, for screen readers
        shown += "\n" + "\n".join(self.page.locator('[data-testid="stDataFrame"] td').all_text_contents())
        missing = _MISSING.findall(shown)
        assert not missing, f"{where}: a missing value shown as text ({missing}) in: {shown[:2000]}"

    def shoot(self, name: str, height: int = 1100) -> None:
        if self.shots is None:
            return
        self.page.set_viewport_size({"width": 1400, "height": height})
        self.idle()
        self.page.wait_for_timeout(1200)  # charts and grids draw after the script has finished
        self.page.screenshot(path=str(self.shots / f"{name}.png"))
        self.page.set_viewport_size({"width": 1400, "height": 1400})

    def go(self, name: str) -> None:
        self.page.locator('[data-testid="stSidebarNav"] a', has_text=name).click()
        self.idle()

    def text(self, words: str, timeout: float = 30_000) -> Any:
        assert self.expect is not None
        locator = self.page.get_by_text(words).filter(visible=True).first  # not the same words in a folded part
        self.expect(locator).to_be_visible(timeout=timeout)
        return locator

    def button(self, name: str) -> Any:
        """The button a person sees (a widget redrawn with other settings can leave a hidden copy for a moment)."""
        return self.page.get_by_role("button", name=name).filter(visible=True).first

    def tab(self, name: str) -> None:
        self.page.get_by_role("tab", name=re.compile(f"^{re.escape(name)}")).click()
        self.idle()

    def pick(self, label: str, option: str) -> None:
        box = self.page.get_by_label(label, exact=True)
        box.click()
        self.page.get_by_role("option", name=option).first.click()
        self.idle()

    def fill(self, label: str, value: str) -> None:
        box = self.page.get_by_label(label, exact=True)
        box.fill(value)
        box.press("Enter")
        self.idle()

    def wait_job(self, done_words: str, timeout: float = 240_000) -> None:
        """A job started from the page: wait for the words that say it ended (perhaps in a table's cell, which is
        in the DOM but not visible: tables are drawn on a canvas), then for the page to settle."""
        assert self.expect is not None
        self.expect(self.page.get_by_text(done_words).first).to_be_attached(timeout=timeout)
        self.page.wait_for_selector(IDLE, timeout=60_000)

    # --- the loop --------------------------------------------------------------------------------------------------
    def run(self, upload: Path) -> None:
        page = self.page
        page.goto(self.url)
        self.check("Projects (empty)")
        self.text("There is no project yet")
        page.get_by_label("Project name").fill(PROJECT)
        page.get_by_role("textbox", name="Task description").fill("What does the farmer need help with?")
        languages = page.get_by_label("Languages", exact=True)
        for name in ("English", "Swahili"):
            languages.click()
            languages.fill(name)
            page.keyboard.press("Enter")
        page.keyboard.press("Escape")
        page.get_by_role("textbox", name="Labels, one per line").fill(
            "weather: rain, drought, storms, forecasts\nprices: market prices and buyers"
        )
        self.button("Create project").click()
        self.text(f"Project '{PROJECT}' created")
        self.check("Projects (created)")

        self.go("Data")
        self.tab("Import")
        upload.write_text(human_rows(), encoding="utf-8")
        page.locator('input[type="file"]').set_input_files(str(upload))
        import_button = page.get_by_role("button", name="Import 40 samples")
        self.expect(import_button).to_be_visible(timeout=30_000)
        self.check("Data: import")
        self.shoot("data-import", 1700)
        import_button.click()
        self.text("Imported 40 samples")
        self.tab("Browse")
        self.check("Data: browse")
        self.shoot("data")

        self.go("Prompts")
        self.text("Exactly what will be sent")
        self.check("Prompts")
        self.shoot("prompts", 1500)

        self.go("Generate")
        self._pick_server("gen")
        self.fill("Default per cell", "6")
        self.check("Generate: the plan")
        self.button("Start generating").click()
        self.wait_job("24 samples generated")
        self.check("Generate: done")
        self.shoot("generate", 1500)

        self.go("Curate")
        self.button("Check samples").click()
        self.wait_job("Last check")
        self.check("Curate: checked")
        self.text("Sample 1 of")
        self.idle()
        for key in ("1", "2", "u", "1"):  # accept as weather, accept as prices, undo that, accept as weather
            page.keyboard.press(key)
            self.idle()
        self.text("accepted")
        self.check("Curate: review")
        self.shoot("curate", 1300)
        self.tab("Browse & bulk")
        page.get_by_text("matching the filters").first.click()
        self.idle()
        self.button("Apply").click()
        self.text("samples accepted")
        self.check("Curate: bulk")
        for tab, name in (
            ("Repeats", "curate-repeats"),
            ("Threshold", "curate-threshold"),
            ("Overview", "curate-overview"),
        ):
            self.tab(tab)
            self.check(f"Curate: {tab}")
            self.shoot(name, 1300)

        self.go("Train")
        self.check("Train: the form")
        if self.shots is not None:  # the fine-tuning choices, for the README; the walk trains the linear probe
            page.get_by_text("Fine-tune the encoder").click()
            self.idle()
            page.get_by_text("Advanced options").click()
            self.check("Train: fine-tuning options")
            self.shoot("train-finetune", 1500)
            page.get_by_text("Linear probe").first.click()
            self.idle()
        self.button("Start training").click()
        self.wait_job("Human test split")
        self.check("Train: done")
        self.shoot("train", 2200)

        self.go("Evaluate")
        self.text("Scores per language")
        self.check("Evaluate")
        # the weakest language opens first; its most frequent confusion is listed under "Where it is weak"
        weak = self.text(" taken for ").inner_text()
        found = re.search(r"(\w+) taken for (\w+)", weak)
        assert found, f"no confusion listed: {weak}"
        true, predicted = found.groups()
        self.pick("True label", true)
        self.pick("Predicted as", predicted)
        self.text(f"of {true} taken for {predicted}")
        self.check("Evaluate: a confused cell")
        self.shoot("evaluate", 1600)
        self.button("Generate more here").click()
        self.idle()
        self._pick_server("targeted")
        self.button("Start generating").click()
        self.text("They arrive as pending samples")
        self.check("Evaluate: generating more")
        self.go("Generate")
        self.wait_job("20 samples generated")  # the targeted run: 20 new samples of the weak cell's true label

        self.go("Projects")
        self.text("Next:")
        self.check("Projects: the loop")
        self.shoot("projects")
        self.go("Jobs")
        self.check("Jobs")
        self.shoot("jobs")
        self.go("Settings")
        self.check("Settings")
        self.shoot("settings")

    def _pick_server(self, key: str) -> None:
        self.pick(
            "Who writes the samples",
            "OpenAI or any OpenAI-compatible server (vLLM, Ollama, llama.cpp, LM Studio, TGI, Azure)",
        )
        server = self.page.get_by_label("Server", exact=True)
        if server.count():
            self.pick("Server", "Another server (type its address and key)")
        self.fill("Server address (base URL)", self.llm_url)
        self.fill("Model", "test-model")
