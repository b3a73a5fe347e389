"""Shared fixtures: an isolated studio home per test, and stores on real SQLite and real PostgreSQL.

PostgreSQL tests run when STUDIO_TEST_POSTGRES_URL names a server where the user may create databases
(`.ci/run` sets it up); each test gets a fresh database. With STUDIO_REQUIRE_POSTGRES=1 a missing server fails
the tests instead of skipping them, so CI cannot pass without them.
"""

from __future__ import annotations

import os
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from core.settings import reset_settings
from core.store import Store
from tests.ray_support import RayCluster

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PAPER_DATA = PROJECT_ROOT.parent / "shared" / "data" / "paper-multilingual"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A real browser is slow by nature: every e2e test belongs to the slow tier (`-m "not slow"` leaves it out)."""
    for item in items:
        if item.get_closest_marker("e2e") is not None:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True, scope="session")
def served_on_this_machine() -> None:
    """The studio's .streamlit/config.toml binds it to 127.0.0.1, but Streamlit reads that file from the working
    folder once, and many tests work in a temporary one: set the same address for every page test, so the app's
    "no account, served to the network" refusal (core/serving.py) applies only where a test sets another one."""
    from streamlit import config as st_config

    st_config.set_option("server.address", "127.0.0.1")


@pytest.fixture(autouse=True)
def studio_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "studio-home"
    monkeypatch.setenv("STUDIO_HOME", str(home))
    monkeypatch.setenv("STUDIO_USER", "tester")
    monkeypatch.setenv("STUDIO_DEMO", "0")
    monkeypatch.delenv("STUDIO_DATABASE_URL", raising=False)
    reset_settings()
    yield home
    reset_settings()


def _postgres_admin_url() -> str | None:
    return os.environ.get("STUDIO_TEST_POSTGRES_URL") or None


@pytest.fixture
def postgres_url() -> Iterator[str]:
    admin_url = _postgres_admin_url()
    if admin_url is None:
        if os.environ.get("STUDIO_REQUIRE_POSTGRES") == "1":
            pytest.fail("STUDIO_REQUIRE_POSTGRES=1 but STUDIO_TEST_POSTGRES_URL is not set")
        pytest.skip("no PostgreSQL server (set STUDIO_TEST_POSTGRES_URL; .ci/run does)")
    name = f"studio_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        _drop_database(admin, name)
        admin.dispose()


def _drop_database(admin, name: str) -> None:  # type: ignore[no-untyped-def]
    """Drop a test database; an autovacuum worker on it can refuse FORCE for a moment, so retry, then warn."""
    for attempt in range(10):
        try:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except Exception as exc:  # a leftover test database must not fail the test
            last = exc
            time.sleep(0.3 * (attempt + 1))
    warnings.warn(f"could not drop test database {name}: {last}", stacklevel=1)


@pytest.fixture
def sqlite_store(studio_home: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{studio_home / 'studio.db'}", "tester")
    yield store
    store.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, studio_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """The same test on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{studio_home / 'studio.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    monkeypatch.setenv("STUDIO_DATABASE_URL", url)
    reset_settings()
    store = Store(url, "tester")
    yield store
    store.dispose()


@pytest.fixture
def paper_data() -> Path:
    if not PAPER_DATA.exists():
        if os.environ.get("CI"):
            pytest.fail(f"the benchmark data is missing at {PAPER_DATA}")
        pytest.skip(f"no benchmark data at {PAPER_DATA}")
    return PAPER_DATA


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random BERT-like sentence encoder folder (built once per test session, no download)."""
    from tests.tiny_models import build_tiny_encoder

    return build_tiny_encoder(tmp_path_factory.mktemp("tiny-encoder"))


@pytest.fixture(scope="session")
def tiny_causal_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random GPT-2-like causal LM folder (built once per test session, no download)."""
    from tests.tiny_models import build_tiny_causal_lm

    return build_tiny_causal_lm(tmp_path_factory.mktemp("tiny-causal-lm"))


@pytest.fixture(scope="session")
def e5_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The bundled encoder converted once for the whole session (shared: it costs seconds and ~490 MB)."""
    import shutil

    from core.models.bundled_encoder import provision_bundled_encoder

    base = tmp_path_factory.mktemp("bundled-e5")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        folder = provision_bundled_encoder(base / "multilingual-e5-small")
    yield folder
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def bundled_in_home(e5_folder: Path, studio_home: Path) -> Path:
    """The shared bundled encoder, linked into this test's studio home as if it had been provisioned there."""
    from core.models.resolver import bundled_folder
    from core.settings import get_settings

    target = bundled_folder("bundled:multilingual-e5-small")
    get_settings().models_dir.mkdir(parents=True, exist_ok=True)
    target.symlink_to(e5_folder, target_is_directory=True)
    return target


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    """One real local Ray cluster (a head and a second node, separate processes) for every Ray test of a session."""
    cluster = RayCluster().start()
    try:
        yield cluster
    finally:
        import ray

        if ray.is_initialized():
            ray.shutdown()
        cluster.stop()


@pytest.fixture
def on_ray(ray_cluster: RayCluster, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """A PostgreSQL store whose jobs run on the test cluster (artifacts under the test's studio home)."""
    monkeypatch.setenv("STUDIO_DATABASE_URL", postgres_url)
    monkeypatch.setenv("STUDIO_EXECUTOR", "ray")
    monkeypatch.setenv("STUDIO_RAY_ADDRESS", ray_cluster.address)
    reset_settings()
    store = Store(postgres_url, "tester")
    yield store
    store.dispose()
