"""Jobs on a real local Ray cluster (tests/ray_support.py): a head and a second node, a PostgreSQL store, the
artifact root under the test's studio home (one machine, so every node reaches it).

Each job kind runs there end to end and gives the same results as the local executor on the same data; a node that
stops fails its job with the machine's message and the run resumes without sending anything twice; cancel reaches
a running task and one still waiting for resources; a custom resource places training on the node that has it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from core.curation.flag_job import launch_checks
from core.embeddings.embed_job import launch_embedding
from core.embeddings.service import cached_vectors
from core.evaluation.run_evaluation import launch_evaluation
from core.generation.engine import GenerationSettings
from core.generation.launch import launch_generation, launch_generation_run
from core.io.importer import ColumnMapping, execute_import, plan_import
from core.jobs.queue import cancel_job, get_job, list_jobs
from core.jobs.ray_executor import RayExecutor
from core.jobs.wait_job import launch_wait
from core.settings import get_settings, reset_settings
from core.store import Store, generation_runs
from core.store.flags import flag_counts
from core.store.jobs import Job
from core.store.projects import Project, create_project, parse_spec
from core.store.sample_texts import distinct_texts, not_rejected_items
from core.store.schema import LlmRequestRow, SampleRow
from core.store.training_runs import get_run_by_id
from core.training.launch import TrainingRequest, launch_training
from tests.openai_server import ScriptedOpenAIServer
from tests.ray_support import PROJECT_ROOT, RayCluster
from tests.training_support import make_project

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def wait_until_ended(store: Store, job_id: int, timeout: float = 180.0) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = get_job(store, job_id)
        if not job.active:
            return job
        time.sleep(0.3)
    raise AssertionError(f"job #{job_id} still {get_job(store, job_id).status} after {timeout:.0f} s")


def wait_until(predicate, timeout: float = 120.0, what: str = "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def farm(store: Store, name: str) -> Project:
    project = create_project(
        store,
        parse_spec(
            name=name,
            task="Classify farmers' messages.",
            languages=[{"code": "sw"}, {"code": "en"}],
            labels=[{"name": "weather", "description": "rain, sun"}, {"name": "prices", "description": "markets"}],
        ),
    )
    frame = pd.DataFrame(
        [("mvua itanyesha kesho?", "weather"), ("bei ya mahindi ni ngapi", "prices")], columns=["text", "label"]
    )
    mapping = ColumnMapping("text", "label", language="sw", origin="human")
    execute_import(store, project, plan_import(store, project, frame, mapping, "human.csv"))
    return project


def test_a_job_runs_as_a_ray_task_and_says_where(on_ray: Store, ray_cluster: RayCluster) -> None:
    job = launch_wait(on_ray, 0.5, 2)
    assert job.executor == "ray"
    assert job.resources == {"CPU": 1.0}
    ended = wait_until_ended(on_ray, job.id)
    assert ended.status == "done", ended.message
    assert ended.node and len(ended.node) >= 16  # a Ray node id
    public = ended.to_public()
    assert public["executor"] == "ray" and public["node"] == ended.node and public["resources"] == {"CPU": 1.0}
    log = Path(ended.log_path).read_text(encoding="utf-8")
    assert f"job #{job.id} (wait) starting" in log and f"job #{job.id} done" in log


# -- the same job body under both executors -------------------------------------------------------------------------


def use_executor(monkeypatch: pytest.MonkeyPatch, name: str, artifacts: Path) -> None:
    """Jobs from now on run on `name`, with their models, embeddings, runs and logs under `artifacts`."""
    monkeypatch.setenv("STUDIO_EXECUTOR", name)
    monkeypatch.setenv("STUDIO_ARTIFACT_ROOT", str(artifacts))
    reset_settings()


def deterministic_answer(body: dict[str, Any]) -> str:
    """The asked number of samples, made from the request's seed: the same request gets the same answer."""
    user = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
    asked = int(re.search(r"\b(\d{1,3})\b", user).group(1))  # type: ignore[union-attr]
    return json.dumps([f"Ujumbe wa shamba {i} mbegu {body['seed']}" for i in range(asked)])


def project_samples(store: Store, project_id: int) -> Counter[tuple[str, str, str, str]]:
    with store.session() as session:
        rows = session.execute(
            select(SampleRow.text, SampleRow.label, SampleRow.language, SampleRow.origin).where(
                SampleRow.project_id == project_id
            )
        ).all()
    return Counter((r.text, r.label, r.language, r.origin) for r in rows)


def test_generation_gives_the_same_samples_on_ray_as_locally(
    on_ray: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-local")
    outcomes = {}
    with ScriptedOpenAIServer(responder=deterministic_answer) as server:
        for executor in ("local", "ray"):
            use_executor(monkeypatch, executor, tmp_path / executor)
            project = farm(on_ray, f"farm-{executor}")
            settings = GenerationSettings(
                backend="openai", model="test-model", per_cell=4, per_request=2, base_url=server.base_url, seed=7
            )
            launched = launch_generation(on_ray, project.id, settings)
            assert launched.job.executor == executor
            job = wait_until_ended(on_ray, launched.job.id)
            assert job.status == "done", job.message
            assert generation_runs.get_run(on_ray, launched.run.id).status == "done"
            outcomes[executor] = (project_samples(on_ray, project.id), job.result)
    assert outcomes["ray"][0] == outcomes["local"][0]
    assert sum(outcomes["ray"][0].values()) == 2 + 4 * 4
    assert _rounded(outcomes["ray"][1]) == _rounded(outcomes["local"][1])


def test_embedding_checks_training_and_evaluation_give_the_same_results_on_ray_as_locally(
    on_ray: Store, tiny_encoder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results: dict[str, dict[str, Any]] = {}
    for executor in ("local", "ray"):
        use_executor(monkeypatch, executor, tmp_path / executor)
        project = make_project(on_ray, tiny_encoder, name=f"crops-{executor}")
        embedded = wait_until_ended(on_ray, launch_embedding(on_ray, project.id, {}).id)
        checked = wait_until_ended(on_ray, launch_checks(on_ray, project.id, threshold=0.97, scope="project").id)
        trained = launch_training(on_ray, project.id, TrainingRequest(name="probe", trainer="linear"))
        trained_job = wait_until_ended(on_ray, trained.job.id)
        evaluated = wait_until_ended(on_ray, launch_evaluation(on_ray, project.id, "probe").job.id)
        for job in (embedded, checked, trained_job, evaluated):
            assert job.status == "done", (job.kind, job.message)
            assert job.executor == executor
        texts = distinct_texts(on_ray, project.id)
        first = min(item.id for item in not_rejected_items(on_ray, project.id))
        results[executor] = {
            "vectors": cached_vectors(texts, str(tiny_encoder)),
            "embed": embedded.result,
            "flags": _ids_from(checked.result, first),
            "flag_counts": flag_counts(on_ray, project.id),
            "train": get_run_by_id(on_ray, trained.run.id).metrics,
            "evaluate": evaluated.result,
        }
    local, ray_ = results["local"], results["ray"]
    assert local["vectors"] is not None and ray_["vectors"] is not None
    np.testing.assert_allclose(ray_["vectors"], local["vectors"], atol=1e-5)
    assert ray_["embed"] == local["embed"]
    assert ray_["flags"] == local["flags"] and ray_["flag_counts"] == local["flag_counts"]
    assert _rounded(ray_["train"]) == _rounded(local["train"])
    assert _rounded(ray_["evaluate"]) == _rounded(local["evaluate"])


def _ids_from(result: dict[str, Any], first: int) -> dict[str, Any]:
    """The checks' result with the sample ids it names (the threshold help's pairs) counted from the project's
    first sample: the two projects compared have the same samples under other ids."""
    profiles = {
        scope: {**profile, "pairs": [[a - first, b - first, s] for a, b, s in profile.get("pairs", [])]}
        for scope, profile in (result.get("threshold_profiles") or {}).items()
    }
    return {**result, "threshold_profiles": profiles}


def _rounded(value: Any) -> Any:
    """Scores to 6 places, without what differs between any two runs (times, paths, ids)."""
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, float):
        return round(value, 6)
    return value


_VOLATILE = {"seconds", "elapsed", "started_at", "finished_at", "path", "artifact_path", "evaluation_id", "run_id"}


# -- a machine that stops, cancel, placement -----------------------------------------------------------------------


def answered_seeds(store: Store, run_id: int) -> set[int]:
    with store.session() as session:
        return set(
            session.scalars(
                select(LlmRequestRow.seed).where(
                    LlmRequestRow.run_kind == "generation",
                    LlmRequestRow.run_id == run_id,
                    LlmRequestRow.answer.is_not(None),
                )
            )
        )


def test_a_node_that_stops_fails_its_generation_and_the_resume_sends_nothing_twice(
    on_ray: Store, ray_cluster: RayCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-local")
    monkeypatch.setenv("STUDIO_RAY_RESOURCES", '{"generate": {"second": 1}}')  # only the second node has it
    reset_settings()
    project = farm(on_ray, "farm")
    try:
        with ScriptedOpenAIServer(responder=deterministic_answer, latency=0.6) as server:
            settings = GenerationSettings(
                backend="openai",
                model="test-model",
                per_cell=6,
                per_request=2,
                concurrency=1,
                base_url=server.base_url,
                seed=11,
            )
            launched = launch_generation(on_ray, project.id, settings)
            run_id = launched.run.id
            wait_until(lambda: len(answered_seeds(on_ray, run_id)) >= 3, what="three stored answers")
            ran_on = get_job(on_ray, launched.job.id).node
            assert ran_on and ran_on == second_node_id()
            before = answered_seeds(on_ray, run_id)
            ray_cluster.stop_second_node()

            lost = wait_until_ended(on_ray, launched.job.id, timeout=120)
            assert lost.status == "failed"
            assert lost.message.startswith(f"The machine running this job stopped (node {ran_on[:12]})"), lost.message
            # the run follows its job a moment later (the same settle hook as for a worker that died)
            wait_until(lambda: generation_runs.get_run(on_ray, run_id).status == "failed", 30, "the run to settle")
            sent_before_resume = len(server.chat_requests)
            assert sent_before_resume < 12  # it was stopped mid-run

            ray_cluster.start_second_node()
            resumed = launch_generation_run(on_ray, generation_runs.get_run(on_ray, run_id))
            finished = wait_until_ended(on_ray, resumed.job.id)
            assert finished.status == "done", finished.message
            seeds = Counter(r.body["seed"] for r in server.chat_requests)
    finally:
        if ray_cluster.second is None:
            ray_cluster.start_second_node()
    assert generation_runs.get_run(on_ray, run_id).status == "done"
    assert all(seeds[seed] == 1 for seed in before), {s: seeds[s] for s in before}  # no stored answer asked again
    assert set(seeds) == answered_seeds(on_ray, run_id)  # every request answered in the end
    generated = Counter(
        (text, label, language)
        for (text, label, language, origin), n in project_samples(on_ray, project.id).items()
        if origin == "synthetic"
        for _ in range(n)
    )
    assert all(n == 1 for n in generated.values())  # no sample twice
    cells = Counter((language, label) for (_, label, language) in generated)
    assert cells == {(lang, label): 6 for lang in ("sw", "en") for label in ("weather", "prices")}


def second_node_id() -> str:
    nodes = RayExecutor(get_settings()).nodes()
    return next(n.node_id for n in nodes if n.alive and "trainer" in n.total)


def test_cancel_stops_a_running_task(on_ray: Store) -> None:
    job = launch_wait(on_ray, 120.0, 120)
    wait_until(lambda: get_job(on_ray, job.id).status == "running", what="the job to run")
    cancel_job(on_ray, job.id)
    ended = wait_until_ended(on_ray, job.id, timeout=60)
    assert ended.status == "cancelled"


def test_cancel_reaches_a_task_still_waiting_for_resources(on_ray: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    import ray

    from core.jobs.ray_executor import dispatcher

    monkeypatch.setenv("STUDIO_RAY_RESOURCES", '{"wait": {"GPU": 1}}')  # no node has a GPU: it waits
    reset_settings()
    job = launch_wait(on_ray, 1.0, 1)
    assert job.resources == {"CPU": 1.0, "GPU": 1.0}
    time.sleep(1.0)
    assert get_job(on_ray, job.id).status == "queued"
    assert job.id in ray.get(dispatcher().jobs.remote())
    ended = cancel_job(on_ray, job.id)
    assert ended.status == "cancelled"
    wait_until(lambda: job.id not in ray.get(dispatcher().jobs.remote()), timeout=30, what="ray.cancel")
    assert get_job(on_ray, job.id).status == "cancelled"


def test_a_custom_resource_places_training_on_the_node_that_has_it(
    on_ray: Store, tiny_encoder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUDIO_RAY_RESOURCES", '{"train": {"trainer": 1}}')
    reset_settings()
    project = make_project(on_ray, tiny_encoder)
    trained = launch_training(on_ray, project.id, TrainingRequest(name="probe", trainer="linear"))
    assert trained.job.resources == {"CPU": 1.0, "trainer": 1.0}
    job = wait_until_ended(on_ray, trained.job.id)
    assert job.status == "done", job.message
    assert job.node == second_node_id()
    assert get_run_by_id(on_ray, trained.run.id).status == "done"


def test_the_cli_runs_a_job_on_the_cluster_and_lists_nodes_and_where_jobs_ran(
    on_ray: Store, ray_cluster: RayCluster
) -> None:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    ran = subprocess.run(
        [sys.executable, "-m", "core", "jobs", "wait", "--seconds", "1", "--steps", "2"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert ran.returncode == 0, ran.stderr
    assert "done" in ran.stdout
    listed = subprocess.run(
        [sys.executable, "-m", "core", "jobs", "--json"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    jobs = json.loads(listed.stdout)
    assert jobs[0]["executor"] == "ray" and jobs[0]["status"] == "done"
    assert jobs[0]["node"] and jobs[0]["resources"] == {"CPU": 1.0}
    nodes = subprocess.run(
        [sys.executable, "-m", "core", "jobs", "nodes", "--json"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    cluster = json.loads(nodes.stdout)
    assert cluster["executor"] == "ray"
    alive = [n for n in cluster["nodes"] if n["alive"]]
    assert len(alive) == 2 and sum(n["head"] for n in alive) == 1
    assert all(n["total"]["CPU"] == 1.0 and n["free"] is not None and "CPU" in n["free"] for n in alive)
    assert jobs[0]["node"] in {n["node"] for n in alive}
    resources = jobs[0]["node_resources"]  # the resources of the node it ran on
    assert resources["alive"] and resources["total"]["CPU"] == 1.0 and "CPU" in resources["free"]


def test_the_jobs_page_shows_the_cluster_and_where_each_job_runs(on_ray: Store) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.page_text import texts

    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/jobs.py").run()
    assert not at.exception, at.exception
    assert "run as jobs on the Ray cluster" in texts(at.caption)
    assert "Cluster" in texts(at.subheader) and "2 node(s) running" in texts(at.caption)
    nodes = at.dataframe[0].value
    running = nodes[nodes["state"] == "running"]  # (a node another test stopped is listed as stopped)
    assert len(running) == 2 and sorted(running["free CPUs"]) == [1.0, 1.0]
    assert any(name.endswith("(head)") for name in running["node"])
    next(b for b in at.button if b.label == "Start test job").click().run()
    job = wait_until_ended(on_ray, get_job(on_ray, 1).id)
    assert job.status == "done" and job.node
    at.run()
    jobs = at.dataframe[1].value
    assert jobs["runs on"][0] == f"Ray node {job.node[:12]} (CPU 1)"
    assert f"Runs on Ray node {job.node[:12]} (CPU 1)" in texts(at.caption)


def test_a_worker_that_cannot_start_on_its_node_fails_its_job_instead_of_leaving_it_queued(on_ray: Store) -> None:
    from core.jobs.lifecycle import launch

    # a setting the worker cannot read: it stops before it claims the job
    job = launch(
        on_ray,
        "wait",
        {"seconds": 1, "steps": 1},
        project_id=None,
        heavy=False,
        extra_env={"STUDIO_MAX_HEAVY_JOBS": "many"},
    )
    ended = wait_until_ended(on_ray, job.id, timeout=120)
    assert ended.status == "failed"
    assert (
        ended.message.startswith("The job's worker on node ")
        and "stopped before it could finish (exit code 1)" in ended.message
    )
    assert "many" in Path(ended.log_path).read_text(encoding="utf-8")  # the log says why


def test_a_training_run_started_on_the_train_page_with_a_gpu_waits_for_a_node_with_one(
    on_ray: Store, tiny_encoder: Path
) -> None:
    from streamlit.testing.v1 import AppTest

    project = make_project(on_ray, tiny_encoder)
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    at.text_input(key=f"train_{project.id}_name_linear").input("on-gpu").run()
    next(t for t in at.toggle if t.label == "Train on a node with a GPU").set_value(True).run()
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception, at.exception
    [job] = [j for j in list_jobs(on_ray, project.id) if j.kind == "train"]
    assert job.resources == {"CPU": 1.0, "GPU": 1.0}
    time.sleep(1.0)
    assert get_job(on_ray, job.id).status == "queued"  # no node of the test cluster has a GPU
    assert cancel_job(on_ray, job.id).status == "cancelled"
