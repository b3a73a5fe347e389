"""Take the README's screenshot of the Jobs page with jobs on a Ray cluster: a real local cluster (a head and a
second node with a custom resource), a PostgreSQL store, the demo project, a test job on each node, in headless
chromium.

STUDIO_TEST_POSTGRES_URL=postgresql+psycopg://... .venv/bin/python scripts/ray_screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from tests.browser_support import IDLE, launch_browser, running_studio  # noqa: E402
from tests.ray_support import RayCluster  # noqa: E402


def _database(admin_url: str) -> str:
    name = f"studio_shots_{uuid.uuid4().hex[:8]}"
    with create_engine(admin_url, isolation_level="AUTOCOMMIT").connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _jobs(env: dict[str, str]) -> None:
    """A test job on any node, then one that only the second node can take."""
    os.environ.update(env)
    from core.jobs.queue import get_job
    from core.jobs.wait_job import launch_wait
    from core.settings import reset_settings
    from core.store import open_store
    from core.store.projects import list_projects

    reset_settings()
    store = open_store()
    demo = list_projects(store)[0].id
    first = launch_wait(store, 2.0, 2, project_id=demo)
    os.environ["STUDIO_RAY_RESOURCES"] = '{"wait": {"trainer": 1}}'
    reset_settings()
    second = launch_wait(store, 60.0, 60, project_id=demo)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (get_job(store, first.id).active or get_job(store, second.id).progress < 0.1):
        time.sleep(0.5)
    os.environ.pop("STUDIO_RAY_RESOURCES")
    reset_settings()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    out = Path(parser.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    url = _database(os.environ["STUDIO_TEST_POSTGRES_URL"])
    cluster = RayCluster().start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            home = Path(folder)
            env = {
                "STUDIO_HOME": str(home),
                "STUDIO_DATABASE_URL": url,
                "STUDIO_EXECUTOR": "ray",
                "STUDIO_RAY_ADDRESS": cluster.address,
            }
            with running_studio(home, demo=True, extra_env=env) as studio, launch_browser() as browser:
                page = browser.new_context(viewport={"width": 1400, "height": 1100}).new_page()
                page.goto(f"{studio}/jobs")  # the first visit creates the demo project
                page.wait_for_selector(IDLE, timeout=60_000)
                _jobs(env)
                page.reload()
                page.wait_for_selector(IDLE, timeout=60_000)
                page.get_by_text("Cluster", exact=True).wait_for(timeout=60_000)
                time.sleep(2)
                page.screenshot(path=str(out / "jobs-ray.png"), full_page=True)
    finally:
        import ray

        if ray.is_initialized():
            ray.shutdown()
        cluster.stop()
    print(f"saved {out / 'jobs-ray.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
