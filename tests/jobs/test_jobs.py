"""Jobs: the `wait` kind run in the foreground and by real worker processes; cancel, death, the heavy slot, secrets."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from core.errors import StudioError
from core.jobs.queue import (
    Job,
    cancel_job,
    get_job,
    hostname,
    list_jobs,
    pid_alive,
    start_worker,
    submit_job,
    worker_alive,
)
from core.jobs.reaper import reap_dead_workers
from core.jobs.runner import run_job
from core.secrets import redact, secret_param_names
from core.settings import reset_settings
from core.store import Store
from core.store.jobs import record_worker
from core.store.schema import utcnow

DEADLINE_SECONDS = 30.0


def wait_for(store: Store, job_id: int, statuses: tuple[str, ...], *, reap: bool = False) -> Job:
    """Poll the job's row until it reaches one of `statuses` (a deadline against hanging, not a timing check)."""
    end = time.monotonic() + DEADLINE_SECONDS
    while True:
        if reap:
            reap_dead_workers(store)  # what the studio's timer and every worker start do
        job = get_job(store, job_id)
        if job.status in statuses:
            return job
        if time.monotonic() > end:
            pytest.fail(f"job #{job_id} is still {job.status} ({job.message}); expected {statuses}")
        time.sleep(0.2)


@pytest.fixture
def workers() -> Iterator[list[int]]:
    """Worker pids started by a test; any still alive at the end are stopped (only those, by their own group)."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


def test_a_foreground_job_runs_to_done(sqlite_store: Store) -> None:
    store = sqlite_store
    job = submit_job(store, "wait", {"seconds": 0.2, "steps": 2})
    assert (job.status, job.progress, job.heavy) == ("queued", 0.0, True)

    assert run_job(store, job.id) == "done"

    done = get_job(store, job.id)
    assert done.status == "done"
    assert done.progress == 1.0
    assert done.result["steps"] == 2
    assert done.message == done.result["message"]
    assert done.started_at is not None and done.finished_at is not None
    assert done.created_by == "tester"
    log = Path(done.log_path).read_text(encoding="utf-8")
    assert "step 1/2" in log and "step 2/2" in log
    assert f"job #{job.id} done" in log


def test_only_a_queued_job_can_be_run(sqlite_store: Store) -> None:
    store = sqlite_store
    job = submit_job(store, "wait", {"seconds": 0, "steps": 1})
    run_job(store, job.id)
    with pytest.raises(StudioError, match="is done; only a queued job can be run"):
        run_job(store, job.id)


def test_fail_at_makes_a_failed_job_with_its_message(sqlite_store: Store) -> None:
    store = sqlite_store
    job = submit_job(store, "wait", {"seconds": 0.2, "steps": 4, "fail_at": 2})
    assert run_job(store, job.id) == "failed"
    failed = get_job(store, job.id)
    assert failed.status == "failed"
    assert failed.message == "Stopped at step 2 as asked (fail_at)."
    assert failed.progress == 0.5
    assert failed.result is None
    assert "Stopped at step 2" in Path(failed.log_path).read_text(encoding="utf-8")


def test_unknown_job_kind_and_unknown_job_are_refused(sqlite_store: Store) -> None:
    store = sqlite_store
    with pytest.raises(StudioError, match="Unknown job kind 'bake'"):
        submit_job(store, "bake", {})
    with pytest.raises(StudioError, match="There is no job #999"):
        get_job(store, 999)


def test_a_background_worker_runs_the_job_to_done(store: Store, workers: list[int]) -> None:
    job = submit_job(store, "wait", {"seconds": 0.4, "steps": 2})
    workers.append(start_worker(store, job.id))

    done = wait_for(store, job.id, ("done", "failed", "cancelled"))
    assert done.status == "done", done.message
    assert done.progress == 1.0
    assert done.result["steps"] == 2
    assert done.worker_pid == workers[0]


def test_cancelling_a_running_background_job(sqlite_store: Store, workers: list[int]) -> None:
    store = sqlite_store
    job = submit_job(store, "wait", {"seconds": 60, "steps": 300})
    workers.append(start_worker(store, job.id))
    wait_for(store, job.id, ("running",))

    asked = cancel_job(store, job.id)
    assert asked.cancel_requested

    ended = wait_for(store, job.id, ("cancelled", "done", "failed"))
    assert ended.status == "cancelled"
    assert ended.progress < 1.0
    assert ended.finished_at is not None


def test_cancelling_a_queued_job_without_a_worker_is_immediate(sqlite_store: Store) -> None:
    store = sqlite_store
    job = submit_job(store, "wait", {"seconds": 5, "steps": 5})
    cancelled = cancel_job(store, job.id)
    assert cancelled.status == "cancelled"
    assert cancelled.message == "Cancelled before it started"
    assert not cancelled.active
    # cancelling a finished job changes nothing
    assert cancel_job(store, job.id).status == "cancelled"


def test_a_killed_worker_is_marked_failed(sqlite_store: Store, workers: list[int]) -> None:
    store = sqlite_store
    job = submit_job(store, "wait", {"seconds": 60, "steps": 300})
    pid = start_worker(store, job.id)
    workers.append(pid)
    wait_for(store, job.id, ("running",))

    os.killpg(pid, signal.SIGKILL)

    failed = wait_for(store, job.id, ("failed", "done", "cancelled"), reap=True)
    assert failed.status == "failed"
    assert "worker process stopped unexpectedly" in failed.message
    assert "log" in failed.message
    assert failed.finished_at is not None


@pytest.mark.slow
def test_two_heavy_jobs_run_one_after_the_other(
    sqlite_store: Store, workers: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = sqlite_store
    monkeypatch.setenv("STUDIO_MAX_HEAVY_JOBS", "1")
    reset_settings()
    first = submit_job(store, "wait", {"seconds": 0.8, "steps": 4})
    second = submit_job(store, "wait", {"seconds": 0.8, "steps": 4})
    workers.append(start_worker(store, first.id))
    workers.append(start_worker(store, second.id))

    samples: list[tuple[str, str]] = []
    end = time.monotonic() + DEADLINE_SECONDS * 2
    while True:
        statuses = (get_job(store, first.id).status, get_job(store, second.id).status)
        samples.append(statuses)
        if all(s in ("done", "failed", "cancelled") for s in statuses):
            break
        if time.monotonic() > end:
            pytest.fail(f"the two jobs did not finish: {samples[-1]}")
        time.sleep(0.1)

    assert ("running", "running") not in samples
    assert {("running", "queued"), ("queued", "running")} & set(samples), "one waited queued while the other ran"
    assert samples[-1] == ("done", "done")
    a, b = sorted((get_job(store, first.id), get_job(store, second.id)), key=lambda j: j.started_at)
    assert b.started_at >= a.finished_at  # the slot is handed over only after the first job's end is written


def test_a_light_job_does_not_wait_for_the_heavy_slot(sqlite_store: Store, workers: list[int]) -> None:
    store = sqlite_store
    heavy = submit_job(store, "wait", {"seconds": 60, "steps": 300})
    workers.append(start_worker(store, heavy.id))
    wait_for(store, heavy.id, ("running",))

    light = submit_job(store, "wait", {"seconds": 0.2, "steps": 1}, heavy=False)
    assert run_job(store, light.id) == "done"
    assert get_job(store, heavy.id).status == "running"
    cancel_job(store, heavy.id)
    wait_for(store, heavy.id, ("cancelled",))


def test_job_parameters_may_not_hold_secrets(sqlite_store: Store) -> None:
    store = sqlite_store
    with pytest.raises(StudioError, match=r"may not hold secrets \(api_key\)"):
        submit_job(store, "wait", {"seconds": 1, "api_key": "sk-live-123456"})
    with pytest.raises(StudioError, match=r"backend\.token"):
        submit_job(store, "wait", {"backend": {"token": "abcdefgh"}})
    assert list_jobs(store) == []
    # an empty secret field is not a secret
    assert submit_job(store, "wait", {"seconds": 0, "api_key": ""}).status == "queued"


def test_secret_param_names_finds_the_usual_spellings() -> None:
    params = {"apiKey": "x", "openai_api_key": "y", "password": "z", "seconds": 3, "nested": {"secret": "s"}}
    assert sorted(secret_param_names(params)) == ["apiKey", "nested.secret", "openai_api_key", "password"]


def test_redact_replaces_secret_values_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    key = f"sk-test-{secrets.token_hex(12)}"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.setenv("SOME_TOKEN", "tok-abcdef123")
    assert key not in redact(f"calling https://api.example.com with {key} and tok-abcdef123")
    assert redact(f"Authorization: Bearer {key}") == "Authorization: Bearer [secret]"
    assert redact("nothing secret here") == "nothing secret here"
    assert redact("value hunter2x", extra=["hunter2x"]) == "value [secret]"


def test_a_secret_given_to_a_worker_is_not_written_anywhere(sqlite_store: Store, workers: list[int]) -> None:
    """The key lives in the worker's environment only. Even pasted into the wrong field, so that the job crashes
    quoting it, the job's row and its log show [secret] instead."""
    store = sqlite_store
    key = f"sk-test-{secrets.token_hex(12)}"
    assert key not in os.environ.values()
    job = submit_job(store, "wait", {"seconds": key, "steps": 1})  # not a number: the job fails quoting it
    workers.append(start_worker(store, job.id, extra_env={"OPENAI_API_KEY": key}))

    failed = wait_for(store, job.id, ("done", "failed", "cancelled"))
    assert failed.status == "failed"
    assert "[secret]" in failed.message
    row = failed.to_public()
    del row["params"]  # where the test itself put the key
    assert key not in repr(row)
    log = Path(failed.log_path).read_text(encoding="utf-8")
    assert "ValueError" in log
    assert "[secret]" in log
    assert key not in log


def test_list_jobs_filters_active_ones(sqlite_store: Store) -> None:
    store = sqlite_store
    finished = submit_job(store, "wait", {"seconds": 0, "steps": 1})
    run_job(store, finished.id)
    waiting = submit_job(store, "wait", {"seconds": 0, "steps": 1})
    assert [j.id for j in list_jobs(store)] == [waiting.id, finished.id]
    assert [j.id for j in list_jobs(store, active_only=True)] == [waiting.id]
    public = get_job(store, finished.id).to_public()
    assert public["status"] == "done" and public["kind"] == "wait"


def test_a_worker_is_judged_by_when_its_process_started_not_by_its_command_line(sqlite_store: Store) -> None:
    """A foreground job run from any script (no "core" in its command line) keeps its job; a pid that a process
    started after the worker was last seen has been reused, and the job is reaped."""
    store = sqlite_store
    job = submit_job(store, "wait", {"seconds": 60, "steps": 1})
    script = subprocess.Popen(["sleep", "60"])  # stands for a user's script running the job in the foreground
    try:
        assert record_worker(store, job.id, script.pid, hostname())
        assert reap_dead_workers(store) == []
        assert worker_alive(get_job(store, job.id))

        seen_before_it_started = dataclasses.replace(
            get_job(store, job.id), heartbeat_at=utcnow() - timedelta(minutes=5)
        )
        assert not worker_alive(seen_before_it_started)  # the same pid, now another program's
    finally:
        script.kill()
        script.wait()
    assert reap_dead_workers(store) == [job.id]
    assert get_job(store, job.id).status == "failed"
