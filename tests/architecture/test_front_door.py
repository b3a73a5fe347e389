"""The front door (core.front): the UI imports core only through it, and the decisions that moved there from the
pages (whether a generation run can be resumed, the studio's configuration table) give the same answers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.front.actor import Actor
from core.front.curation import DiversityRow, check_findings
from core.front.generation import GenerationSettings, get_run, run_resume
from core.front.projects import create_project, get_project, parse_spec
from core.front.settings import studio_configuration
from core.generation.engine import start_run
from core.jobs.queue import cancel_job, submit_job
from core.settings import reset_settings
from core.store import Store, generation_runs
from core.store.jobs import end_job

PROJECT_ROOT = Path(__file__).resolve().parents[2]
UI_FILES = [
    PROJECT_ROOT / "app.py",
    *(PROJECT_ROOT / "pages").rglob("*.py"),
    *(PROJECT_ROOT / "components").rglob("*.py"),
]
# The same count as `grep -rhoE "^\s*(from|import) core(\.[a-z_0-9]+)*" pages components app.py | sort -u`
CORE_IMPORT = re.compile(r"^\s*(?:from|import) (core(?:\.[a-z_0-9]+)*)", re.MULTILINE)
ALLOWED = re.compile(r"core\.front\.[a-z_0-9]+|core\.errors|core\.language_names|core\.settings")


def test_the_ui_imports_core_only_through_the_front_door() -> None:
    imported = {name for path in UI_FILES for name in CORE_IMPORT.findall(path.read_text(encoding="utf-8"))}
    assert imported, "no core import found: the pattern no longer matches the UI's imports"
    assert sorted(name for name in imported if not ALLOWED.fullmatch(name)) == []
    # beside the front door's modules (one per area), only these three
    assert {name for name in imported if not name.startswith("core.front.")} <= {
        "core.errors",
        "core.language_names",
        "core.settings",
    }


def test_the_ui_acts_as_the_signed_in_user() -> None:
    """Only the studio's state may build the personal actor: everywhere else the UI acts as `current_actor()`, so a
    signed-in annotator can never pass a role check as the personal-mode owner."""
    builders = {
        path.relative_to(PROJECT_ROOT).as_posix()
        for path in UI_FILES
        if "Actor.of(" in path.read_text(encoding="utf-8")
    }
    assert builders <= {"components/studio_state.py", "app.py"}


CLI_FILES = sorted((PROJECT_ROOT / "core" / "cli").rglob("*.py"))
# the CLI's own modules, and the same few that the UI may import beside the front door
CLI_ALLOWED = re.compile(
    r"core\.cli(?:\.[a-z_0-9]+)?|core\.front\.[a-z_0-9]+|core\.errors|core\.language_names|core\.settings"
)


def test_the_cli_imports_core_only_through_the_front_door() -> None:
    assert len(CLI_FILES) > 5, "the CLI package was not found"
    imported = {name for path in CLI_FILES for name in CORE_IMPORT.findall(path.read_text(encoding="utf-8"))}
    assert any(name.startswith("core.front.") for name in imported), "the pattern no longer matches the CLI's imports"
    assert sorted(name for name in imported if not CLI_ALLOWED.fullmatch(name)) == []


def _run_of(store: Store) -> tuple[Actor, int]:
    actor = Actor.of(store)
    project = create_project(
        actor,
        parse_spec(name="crops", labels=[{"name": "weather"}, {"name": "pests"}], languages=[{"code": "en"}]),
    )
    settings = GenerationSettings(backend="openai", model="m", base_url="http://127.0.0.1:9/v1", per_cell=2)
    return actor, start_run(store, project.id, settings).id


def test_a_failed_run_can_be_resumed_only_when_resuming_helps_and_no_job_works_on_it(sqlite_store: Store) -> None:
    actor, run_id = _run_of(sqlite_store)
    generation_runs.mark_failed(sqlite_store, run_id, "The server did not answer.", "unreachable")
    resume = run_resume(actor, get_run(actor, run_id))
    assert (resume.job, resume.job_active, resume.can_resume) == (None, False, True)
    assert resume.next_step.startswith("Start the server or check its address, then resume")

    job = submit_job(sqlite_store, "generate", {"run_id": run_id}, project_id=get_run(actor, run_id).project_id)
    resume = run_resume(actor, get_run(actor, run_id))
    assert resume.job is not None and resume.job.id == job.id
    assert (resume.job_active, resume.resume_helps, resume.can_resume) == (True, True, False)
    assert run_resume(actor, get_run(actor, run_id), active_jobs=[]).can_resume  # the caller's list is used

    cancel_job(sqlite_store, job.id)
    generation_runs.mark_failed(sqlite_store, run_id, "The key was refused.", "auth")
    resume = run_resume(actor, get_run(actor, run_id))
    assert (resume.job, resume.can_resume) == (None, False)
    assert resume.next_step.startswith("Check the API key")


def test_a_finished_run_offers_no_resume(sqlite_store: Store) -> None:
    actor, run_id = _run_of(sqlite_store)
    generation_runs.set_run(sqlite_store, run_id, status="done")
    resume = run_resume(actor, get_run(actor, run_id))
    assert (resume.can_resume, resume.next_step) == (False, "")


def test_the_findings_of_the_last_check_cross_as_dataclasses(sqlite_store: Store) -> None:
    actor, run_id = _run_of(sqlite_store)
    project_id = get_run(actor, run_id).project_id
    project = get_project(actor, project_id)
    assert check_findings(actor, project) is None  # no check yet
    row = {
        "language": "en",
        "label": "weather",
        "n": 3,
        "mean_similarity": 0.91,
        "distinct_2": None,
        "groups": 1,
        "group_share": 0.33,
        "reference_similarity": None,
        "reference_distinct_2": None,
        "collapse": "collapsed",
        "reasons": ["The samples are nearly the same."],
    }
    language_id = {"unsupported": ["tw"], "message": "Twi is not known to the language detectors."}
    job = submit_job(sqlite_store, "flag", {}, project_id=project_id)
    end_job(sqlite_store, job.id, "done", "checked", result={"language_id": language_id, "diversity": [row]})
    findings = check_findings(actor, project)
    assert findings is not None and findings.job_id == job.id
    assert findings.language_note == "Twi is not known to the language detectors."
    assert findings.diversity == [
        DiversityRow("en", "weather", 3, 0.91, None, 1, "collapsed", ("The samples are nearly the same.",))
    ]

    later = submit_job(sqlite_store, "flag", {}, project_id=project_id)
    end_job(sqlite_store, later.id, "done", "checked", result={"language_id": {"unsupported": []}, "diversity": []})
    findings = check_findings(actor, project)
    assert findings is not None and (findings.job_id, findings.language_note, findings.diversity) == (
        later.id,
        None,
        [],
    )


def test_the_configuration_table_names_each_variable_and_hides_the_database_password(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUDIO_DATABASE_URL", "postgresql+psycopg://studio:s3cret-pw@db.example:5432/studio")
    monkeypatch.setenv("STUDIO_MAX_HEAVY_JOBS", "2")
    reset_settings()
    rows = studio_configuration(Actor.of(sqlite_store))
    assert [row.variable for row in rows] == [
        "STUDIO_HOME",
        "STUDIO_DATABASE_URL",
        "STUDIO_USER",
        "STUDIO_DEFAULT_ENCODER",
        "STUDIO_MAX_HEAVY_JOBS",
        "STUDIO_ARTIFACT_ROOT",
        "STUDIO_EXECUTOR",
    ]
    values = {row.variable: row.value for row in rows}
    assert values["STUDIO_EXECUTOR"] == "local"
    assert values["STUDIO_DATABASE_URL"] == "postgresql+psycopg://studio:***@db.example:5432/studio"
    assert values["STUDIO_USER"] == "tester"
    assert values["STUDIO_MAX_HEAVY_JOBS"] == "2"
    assert all("s3cret-pw" not in row.value for row in rows)
    monkeypatch.setenv("STUDIO_EXECUTOR", "ray")
    monkeypatch.setenv("STUDIO_RAY_ADDRESS", "head.example:6379")
    monkeypatch.setenv("STUDIO_RAY_RESOURCES", '{"train": {"GPU": 1}}')
    reset_settings()
    on_ray = {row.variable: row.value for row in studio_configuration(Actor.of(sqlite_store))}
    assert on_ray["STUDIO_RAY_ADDRESS"] == "head.example:6379"
    assert on_ray["STUDIO_RAY_RESOURCES"] == '{"train": {"GPU": 1.0}}'
