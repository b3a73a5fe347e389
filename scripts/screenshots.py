"""Take the README's screenshots: the whole loop walked in headless chromium on a fresh data folder (the same walk
as the browser test tests/browser/test_browser_loop.py), with the studio's real bundled encoder and a local
OpenAI-protocol server as the LLM.

.venv/bin/python scripts/screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import expect  # noqa: E402

from tests.browser_support import launch_browser, running_studio  # noqa: E402
from tests.loop_walk import Walk, llm_answer  # noqa: E402
from tests.openai_server import ScriptedOpenAIServer  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as home,
        ScriptedOpenAIServer(responder=llm_answer) as llm,
        running_studio(Path(home), demo=False) as url,
        launch_browser() as browser,
    ):
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        Walk(page, url, llm.base_url, shots=out, expect=expect).run(Path(home) / "farm_messages.csv")
    for shot in sorted(out.glob("*.png")):
        print(shot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
