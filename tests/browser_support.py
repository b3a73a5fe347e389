"""A real studio server and a real browser (Debian's chromium driven by Playwright) for tests and screenshots.

Never `playwright install`: the browser is the system's /usr/bin/chromium.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("STUDIO_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"][data-test-connection-state="CONNECTED"]'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_studio(home: Path, *, demo: bool, extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "STUDIO_HOME": str(home),
        "STUDIO_DEMO": "1" if demo else "0",
        "STUDIO_USER": "tester",
        **(extra_env or {}),
    }
    env.pop("STUDIO_DATABASE_URL", None) if "STUDIO_DATABASE_URL" not in (extra_env or {}) else None
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "app.py"),
            "--server.headless=true",
            f"--server.port={port}",
            "--server.address=127.0.0.1",
            "--browser.gatherUsageStats=false",
            "--server.fileWatcherType=none",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.read().decode().strip() == "ok":
                    return process, url
        except OSError:
            time.sleep(0.2)
        if process.poll() is not None:
            raise RuntimeError("the studio server exited during start-up")
    stop_studio(process)
    raise RuntimeError("the studio server did not answer its health check within 60 s")


def stop_studio(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


@contextmanager
def running_studio(home: Path, *, demo: bool, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    process, url = start_studio(home, demo=demo, extra_env=extra_env)
    try:
        yield url
    finally:
        stop_studio(process)


@contextmanager
def launch_browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


SESSION_COOKIE = "studio_session"  # components/sign_in.py's cookie


def sign_in(browser, url: str, username: str, password: str, *, height: int = 1200):  # type: ignore[no-untyped-def]
    """A new browser context signed in as `username` (team mode), its page returned once the session cookie is set:
    the cookie is written by a component after the sign-in run, and a page opened before that asks again."""
    from playwright.sync_api import expect

    page = browser.new_context(viewport={"width": 1400, "height": height}).new_page()
    page.goto(url)
    page.wait_for_selector(IDLE, timeout=60_000)
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Signed in as")).to_be_visible(timeout=30_000)
    page.wait_for_selector(IDLE, timeout=60_000)
    page.wait_for_function(f"() => document.cookie.includes('{SESSION_COOKIE}=')", timeout=30_000)
    return page
