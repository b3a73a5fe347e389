"""Take the README's screenshots: a fresh studio home with the demo project, each page in headless chromium.

.venv/bin/python scripts/screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser_support import IDLE, launch_browser, running_studio  # noqa: E402


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
            page.wait_for_timeout(800)
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
        page.get_by_text("samples generated").first.wait_for(timeout=90_000)
        page.wait_for_selector(IDLE, timeout=60_000)
        page.screenshot(path=str(out / "generate.png"))
        print(out / "generate.png")
        page.set_viewport_size({"width": 1400, "height": 1100})
        page.locator('[data-testid="stSidebarNav"] a', has_text="Jobs").click()
        page.wait_for_selector(IDLE, timeout=60_000)
        page.get_by_text("Check that jobs work").click()
        page.get_by_role("button", name="Start test job").click()
        page.get_by_text("Step 3 of 10").wait_for(timeout=60_000)
        page.screenshot(path=str(out / "jobs.png"))
        print(out / "jobs.png")
        page.locator('[data-testid="stSidebarNav"] a', has_text="Settings").click()
        page.wait_for_selector(IDLE, timeout=60_000)
        page.get_by_role("heading", name="Studio configuration").wait_for()
        page.screenshot(path=str(out / "settings.png"))
        print(out / "settings.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
