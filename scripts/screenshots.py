"""Take the README's screenshots: a fresh studio home with the demo project, each page in headless chromium.

.venv/bin/python scripts/screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser_support import IDLE, launch_browser, running_studio  # noqa: E402

DEMO = "Farmers' help line (demo)"


def shoot(page, out: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_timeout(1200)
    page.screenshot(path=str(out / f"{name}.png"))
    print(out / f"{name}.png")


def press_and_shoot(page, out: Path, title: str, button: str, done: str) -> None:  # type: ignore[no-untyped-def]
    """Open a page, press its button, wait until the job's result shows, take the screenshot."""
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).click()
    page.wait_for_selector(IDLE, timeout=60_000)
    page.get_by_role("button", name=button).click()
    page.get_by_text(done).first.wait_for(timeout=600_000)
    page.wait_for_selector(IDLE, timeout=60_000)
    shoot(page, out, title.lower())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as home,
        running_studio(Path(home), demo=True) as url,
        launch_browser() as browser,
    ):
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        for name, path in (("projects", ""), ("data", "data")):
            page.goto(f"{url}/{path}")
            page.wait_for_selector(IDLE, timeout=60_000)
            page.wait_for_selector('[data-testid="stSkeleton"]', state="detached", timeout=30_000)
            page.wait_for_timeout(1500)  # the forms and tables draw after the script has finished
            page.screenshot(path=str(out / f"{name}.png"))
            print(out / f"{name}.png")
        page.goto(f"{url}/data")
        page.wait_for_selector(IDLE, timeout=60_000)
        page.get_by_role("tab", name="Import").click()
        sample = Path(home) / "new_messages.csv"
        sample.write_text(
            "message,category,lang\n"
            "Mvua kubwa inakuja wiki hii?,weather,sw\n"
            "Bei ya nyanya Arusha leo?,market_prices,sw\n"
            "My cassava leaves have brown spots,crop_disease,en\n"
            ",weather,en\n"
            "Is it going to rain in Kano tomorrow?,weather,en\n"
            "Ṣé òjò máa rọ̀ lọ́la?,weather,yo\n",
            encoding="utf-8",
        )
        page.locator('input[type="file"]').set_input_files(str(sample))
        page.get_by_role("button", name="Import 5 samples").wait_for(timeout=60_000)
        page.wait_for_selector(IDLE, timeout=60_000)
        page.set_viewport_size({"width": 1400, "height": 1700})
        page.wait_for_timeout(500)
        page.screenshot(path=str(out / "data-import.png"))
        print(out / "data-import.png")
        page.set_viewport_size({"width": 1400, "height": 1500})
        page.locator('[data-testid="stSidebarNav"] a', has_text="Prompts").click()
        page.wait_for_selector(IDLE, timeout=60_000)
        page.get_by_text("Exactly what will be sent").wait_for()
        page.screenshot(path=str(out / "prompts.png"))
        print(out / "prompts.png")
        page.locator('[data-testid="stSidebarNav"] a', has_text="Generate").click()
        page.wait_for_selector(IDLE, timeout=60_000)
        page.get_by_role("button", name="Start generating").click()
        page.get_by_text("samples generated").first.wait_for(state="attached", timeout=90_000)
        page.wait_for_selector(IDLE, timeout=60_000)
        page.screenshot(path=str(out / "generate.png"))
        print(out / "generate.png")
        page.set_viewport_size({"width": 1400, "height": 1100})
        page.locator('[data-testid="stSidebarNav"] a', has_text="Jobs").click()
        page.wait_for_selector(IDLE, timeout=60_000)
        page.get_by_text("Check that jobs work").click()
        page.get_by_role("button", name="Start test job").click()
        page.get_by_text("Step 3 of 10").first.wait_for(timeout=60_000)
        page.screenshot(path=str(out / "jobs.png"))
        print(out / "jobs.png")
        page.locator('[data-testid="stSidebarNav"] a', has_text="Settings").click()
        page.wait_for_selector(IDLE, timeout=60_000)
        page.get_by_role("heading", name="Studio configuration").wait_for()
        page.screenshot(path=str(out / "settings.png"))
        print(out / "settings.png")

        page.set_viewport_size({"width": 1400, "height": 1300})
        page.locator('[data-testid="stSidebarNav"] a', has_text="Curate").click()
        page.wait_for_selector(IDLE, timeout=60_000)
        page.get_by_role("button", name="Check samples").click()
        page.get_by_text("Checking samples").first.wait_for(timeout=60_000)
        page.get_by_text("Checking samples").first.wait_for(state="detached", timeout=300_000)
        page.wait_for_selector(IDLE, timeout=60_000)
        shoot(page, out, "curate")
        for tab, name in (
            ("Repeats", "curate-repeats"),
            ("Threshold", "curate-threshold"),
            ("Overview", "curate-overview"),
        ):
            page.get_by_role("tab", name=tab).click()
            page.wait_for_selector(IDLE, timeout=60_000)
            shoot(page, out, name)

        accept = [sys.executable, "-m", "core", "curate", "--project", DEMO, "--accept-unflagged"]
        subprocess.run(accept, env={**os.environ, "STUDIO_HOME": home}, cwd=ROOT, check=True, capture_output=True)
        press_and_shoot(page, out, "Train", "Start training", "Human test split")
        page.get_by_text("Fine-tune the encoder").click()
        page.wait_for_selector(IDLE, timeout=60_000)
        page.get_by_text("Advanced options").click()
        page.wait_for_timeout(500)
        page.get_by_text("Blend weight").scroll_into_view_if_needed()
        shoot(page, out, "train-finetune")
        page.set_viewport_size({"width": 1400, "height": 1500})
        press_and_shoot(page, out, "Evaluate", "Evaluate on the test split", "Scores per language")
    return 0


if __name__ == "__main__":
    sys.exit(main())
