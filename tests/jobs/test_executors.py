"""Choosing where jobs run, without a cluster: the settings, the resources each kind asks for, a SQLite store refused
for Ray before anything is queued, and a studio without Ray configured that never imports it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import StudioError
from core.jobs.executors import resources_for
from core.jobs.queue import get_job
from core.jobs.wait_job import launch_wait
from core.settings import settings_from_env
from core.store import Store
from core.store.schema import JobRow

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_the_executor_is_local_unless_a_setting_says_ray(tmp_path: Path) -> None:
    assert settings_from_env({"STUDIO_HOME": str(tmp_path)}).executor == "local"
    chosen = settings_from_env(
        {"STUDIO_HOME": str(tmp_path), "STUDIO_EXECUTOR": "Ray", "STUDIO_RAY_ADDRESS": "head:6379"}
    )
    assert (chosen.executor, chosen.ray_address) == ("ray", "head:6379")
    with pytest.raises(StudioError, match="STUDIO_EXECUTOR must be one of local, ray, not 'kubernetes'"):
        settings_from_env({"STUDIO_HOME": str(tmp_path), "STUDIO_EXECUTOR": "kubernetes"})


def test_artifacts_live_under_the_artifact_root_when_one_is_set(tmp_path: Path) -> None:
    plain = settings_from_env({"STUDIO_HOME": str(tmp_path / "home")})
    assert plain.logs_dir == tmp_path / "home" / "logs" and plain.embeddings_dir == tmp_path / "home" / "embeddings"
    shared = settings_from_env({"STUDIO_HOME": str(tmp_path / "home"), "STUDIO_ARTIFACT_ROOT": str(tmp_path / "nfs")})
    assert {shared.logs_dir, shared.models_dir, shared.runs_dir, shared.embeddings_dir} == {
        tmp_path / "nfs" / name for name in ("logs", "models", "runs", "embeddings")
    }
    assert shared.uploads_dir == tmp_path / "home" / "uploads"  # what a person uploads stays on the studio's machine


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{train: GPU}", "STUDIO_RAY_RESOURCES is not valid JSON"),
        ('["train"]', "must map job kinds to resources"),
        ('{"train": 1}', "the resources of 'train' must be an object"),
        ('{"train": {"GPU": "one"}}', "'train' asks for GPU = 'one'; an amount is a number of 0 or more"),
        ('{"train": {"GPU": -1}}', "an amount is a number of 0 or more"),
        ('{"train": {"GPU": true}}', "an amount is a number of 0 or more"),
    ],
)
def test_a_resource_table_that_is_not_right_says_what_is_wrong(tmp_path: Path, raw: str, message: str) -> None:
    with pytest.raises(StudioError, match=message):
        settings_from_env({"STUDIO_HOME": str(tmp_path), "STUDIO_RAY_RESOURCES": raw})


def test_each_kind_asks_for_a_cpu_a_gpu_when_its_run_wants_one_and_what_the_setting_says(tmp_path: Path) -> None:
    settings = settings_from_env(
        {
            "STUDIO_HOME": str(tmp_path),
            "STUDIO_RAY_RESOURCES": '{"train": {"GPU": 1, "CPU": 4}, "checks": {"CPU": 2}, "embed": {"trainer": 1}}',
        }
    )
    assert resources_for("generate", settings=settings) == {"CPU": 1.0}
    assert resources_for("generate_local", gpu=True, settings=settings) == {"CPU": 1.0, "GPU": 1.0}
    assert resources_for("train", settings=settings) == {"CPU": 4.0, "GPU": 1.0}
    assert resources_for("flag", settings=settings) == {"CPU": 2.0}  # "checks" names the checks job
    assert resources_for("embed", settings=settings) == {"CPU": 1.0, "trainer": 1.0}


def test_ray_refuses_a_sqlite_store_before_anything_is_queued(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.settings import reset_settings

    monkeypatch.setenv("STUDIO_EXECUTOR", "ray")
    reset_settings()
    with pytest.raises(StudioError, match="need a PostgreSQL database that every node reaches"):
        launch_wait(sqlite_store, 1.0, 1)
    with sqlite_store.session() as session:
        assert session.query(JobRow).count() == 0


def test_a_local_job_says_it_ran_on_this_machine(sqlite_store: Store) -> None:
    from core.jobs.lifecycle import run_here

    job = launch_wait(sqlite_store, 0.1, 1, background=False)
    assert job.executor == "local" and job.resources is None
    assert run_here(sqlite_store, job.id) == "done"
    public = get_job(sqlite_store, job.id).to_public()
    assert public["executor"] == "local" and public["node"] == public["host"] and public["host"]


def test_the_studio_without_ray_configured_never_imports_ray(studio_home: Path) -> None:
    """Every page's core, the CLI and a job run from start to end: Ray stays out of the process."""
    script = (
        "import sys, importlib, pkgutil, core\n"
        "for m in pkgutil.walk_packages(core.__path__, 'core.'):\n"
        "    if m.name not in ('core.jobs.ray_executor', 'core.__main__') and 'migrations' not in m.name:\n"
        "        importlib.import_module(m.name)\n"
        "from core.cli.app import main\n"
        "assert main(['jobs', 'wait', '--seconds', '0.1', '--steps', '1']) == 0\n"
        "assert main(['jobs', 'nodes', '--json']) == 0\n"
        "print('ray' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_") or k == "STUDIO_HOME"}
    env.update({"PYTHONPATH": str(PROJECT_ROOT), "STUDIO_HOME": str(studio_home), "STUDIO_DEMO": "0"})
    ran = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=240
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.postgres
def test_a_cluster_that_is_not_there_is_said_at_once_and_nothing_is_queued(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.settings import reset_settings

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("STUDIO_EXECUTOR", "ray")
    monkeypatch.setenv("STUDIO_RAY_ADDRESS", f"127.0.0.1:{port}")
    reset_settings()
    store = Store(postgres_url, "tester")
    try:
        with pytest.raises(
            StudioError, match=rf"The Ray cluster at 127.0.0.1:{port} cannot be reached .*STUDIO_EXECUTOR=local"
        ):
            launch_wait(store, 1.0, 1)
        with store.session() as session:
            assert session.query(JobRow).count() == 0
    finally:
        store.dispose()
