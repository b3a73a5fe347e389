"""Take the README's team-mode screenshots: a fresh data folder with four accounts and the demo project, the
sign-in form, the owner's Team page (accounts, LLM endpoints, audit log) and an annotator reviewing, in headless
chromium.

.venv/bin/python scripts/team_screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from tests.browser_support import IDLE, launch_browser, running_studio, sign_in  # noqa: E402

PASSWORD = "a long enough password"
PEOPLE = [
    ("lena", "lead", "Lena Schmidt"),
    ("amina", "annotator", "Amina Njoroge"),
    ("tunde", "annotator", "Tunde Adeyemi"),
    ("victor", "viewer", "Victor Ruiz"),
]


def _team(home: Path) -> int:
    os.environ["STUDIO_HOME"] = str(home)
    from core.front.accounts import add_account, add_project_member
    from core.front.actor import Actor
    from core.front.endpoints import EndpointSpec, add_endpoint
    from core.front.projects import create_demo_project
    from core.store import open_store

    store = open_store()
    add_account(Actor.of(store), "olga", "owner", PASSWORD, display_name="Olga Okafor")
    olga = Actor(store, "olga", "owner", team=True)
    for username, role, name in PEOPLE:
        add_account(olga, username, role, PASSWORD, display_name=name)
    project = create_demo_project(olga)
    for username in ("lena", "amina", "tunde"):
        add_project_member(olga, project.id, username)
    add_endpoint(
        olga,
        EndpointSpec(name="lab-vllm", base_url="http://127.0.0.1:8000/v1", models=("Qwen2.5-7B-Instruct",), key_env=""),
    )
    store.dispose()
    return project.id


def _sign_in(browser, url: str, username: str, out: Path | None = None):  # type: ignore[no-untyped-def]
    if out is not None:  # the form, as a visitor first sees it
        page = browser.new_context(viewport={"width": 1400, "height": 1100}).new_page()
        page.goto(url)
        page.wait_for_selector(IDLE, timeout=60_000)
        page.screenshot(path=str(out / "sign-in.png"))
    return sign_in(browser, url, username, PASSWORD, height=1100)


def _tab(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("tab", name=name).click()
    page.wait_for_selector(IDLE, timeout=60_000)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    out = Path(parser.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        project_id = _team(home)
        with running_studio(home, demo=False) as url, launch_browser() as browser:
            olga = _sign_in(browser, url, "olga", out)
            olga.goto(f"{url}/team?project={project_id}")
            olga.wait_for_selector(IDLE, timeout=60_000)
            olga.screenshot(path=str(out / "team.png"))
            _tab(olga, "LLM endpoints")
            olga.screenshot(path=str(out / "team-endpoints.png"))
            _tab(olga, "Audit log")
            olga.screenshot(path=str(out / "team-audit.png"))
            amina = _sign_in(browser, url, "amina")
            amina.goto(f"{url}/curate?project={project_id}")
            amina.wait_for_selector(IDLE, timeout=60_000)
            amina.screenshot(path=str(out / "team-annotator.png"))
    for name in ("sign-in", "team", "team-endpoints", "team-audit", "team-annotator"):
        print(out / f"{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
