"""The studio refuses to serve to the network while no account exists (core.serving), and `serve-check` says so."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.accounts.manage import create_account
from core.serving import bind_problem, is_loopback
from core.store import Store

ROOT = Path(__file__).resolve().parents[2]


def test_loopback_addresses() -> None:
    for address in ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", " localhost "]:
        assert is_loopback(address), address
    for address in ["0.0.0.0", "::", "", None, "192.168.1.20", "studio.example.org"]:
        assert not is_loopback(address), address


def test_no_account_serves_on_loopback_only(sqlite_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STUDIO_ALLOW_OPEN", raising=False)
    assert bind_problem("127.0.0.1", sqlite_store) is None
    for address in ["0.0.0.0", "", None, "10.1.2.3"]:
        problem = bind_problem(address, sqlite_store)
        assert problem is not None
        assert "python -m core users add NAME --role owner" in problem
        assert "STUDIO_ALLOW_OPEN=1" in problem


def test_an_account_opens_the_network(sqlite_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STUDIO_ALLOW_OPEN", raising=False)
    create_account(sqlite_store, "olga", "owner", "a long password")
    assert bind_problem("0.0.0.0", sqlite_store) is None


def test_allow_open_serves_with_a_warning(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("STUDIO_ALLOW_OPEN", "1")
    with caplog.at_level(logging.WARNING, logger="distill_studio.serving"):
        assert bind_problem("10.9.8.7", sqlite_store) is None
    assert "STUDIO_ALLOW_OPEN=1" in caplog.text and "10.9.8.7" in caplog.text


def _serve_check(address: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "core", "serve-check", "--address", address],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_serve_check_command(studio_home: Path) -> None:
    assert _serve_check("127.0.0.1").returncode == 0
    refused = _serve_check("0.0.0.0", STUDIO_ALLOW_OPEN="0")
    assert refused.returncode == 1
    assert "python -m core users add NAME --role owner" in refused.stderr
    allowed = _serve_check("0.0.0.0", STUDIO_ALLOW_OPEN="1")
    assert allowed.returncode == 0
    assert "STUDIO_ALLOW_OPEN=1" in allowed.stderr
