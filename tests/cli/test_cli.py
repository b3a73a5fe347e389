"""`python -m core`: the commands' output shapes, their error lines, and --help, in-process and as a real process."""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from core.cli import build_parser, main

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ROWS = [
    ("text", "label", "language", "split"),
    ("my bill is wrong", "billing", "en", "train"),
    ("the network is down", "outage", "en", "test"),
    ("", "outage", "en", "train"),
    ("nimetozwa pesa mara mbili", "billing", "sw", "train"),
    ("my bill is wrong", "billing", "en", "train"),
    ("=1+1", "billing", "sw", "test"),
]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def ok(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code, out, err = run(capsys, *args)
    assert code == 0, err
    assert err == ""
    return out


def assert_one_error_line(code: int, err: str, *fragments: str) -> None:
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "support.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(ROWS)
    return path


@pytest.fixture
def project(capsys: pytest.CaptureFixture[str]) -> str:
    ok(capsys, "init", "--project", "Support", "--labels", "billing,outage", "--languages", "en,sw", "--task", "route")
    return "Support"


def _import(capsys: pytest.CaptureFixture[str], project: str, path: Path, *extra: str) -> str:
    return ok(
        capsys,
        "import",
        "--project",
        project,
        str(path),
        "--text-column",
        "text",
        "--label-column",
        "label",
        "--language-column",
        "language",
        *extra,
    )


def test_init_and_projects_json(capsys: pytest.CaptureFixture[str]) -> None:
    out = ok(capsys, "init", "--project", "Support", "--labels", "billing, outage", "--languages", "en,swa")
    assert "Created project 'Support'" in out
    assert "billing, outage" in out

    projects = json.loads(ok(capsys, "projects", "--json"))
    assert len(projects) == 1
    (project,) = projects
    assert project["name"] == "Support"
    assert [lb["name"] for lb in project["labels"]] == ["billing", "outage"]
    assert project["languages"] == [{"code": "en", "name": "English"}, {"code": "sw", "name": "Swahili"}]
    assert project["samples"] == 0
    assert project["created_by"] == "tester"
    assert isinstance(project["id"], int)


def test_projects_without_any(capsys: pytest.CaptureFixture[str]) -> None:
    assert json.loads(ok(capsys, "projects", "--json")) == []
    assert "No projects yet" in ok(capsys, "projects")


def test_init_needs_labels_and_languages(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "init", "--project", "P")
    assert_one_error_line(code, err, "--labels", "--languages")
    code, _, err = run(capsys, "init", "--project", "P", "--labels", "a", "--languages", "xx")
    assert_one_error_line(code, err, "unknown language code 'xx'")


def test_import_prints_counts_and_reasons(capsys: pytest.CaptureFixture[str], project: str, data_file: Path) -> None:
    out = _import(capsys, project, data_file)
    stored = len(ROWS) - 2  # the header and the empty text
    assert f"Imported {stored} samples into 'Support'; skipped 1." in out
    assert "skipped 1: empty or missing text" in out
    assert "note: repeat an earlier row of this file" in out

    again = json.loads(_import(capsys, project, data_file, "--json"))
    assert again["imported"] == 0
    assert again["skipped"] == stored + 1
    assert again["skipped_reasons"] == {
        "empty or missing text": 1,
        "already in the project (same text, label, language, split and origin)": stored,
    }


def test_import_dry_run_stores_nothing(capsys: pytest.CaptureFixture[str], project: str, data_file: Path) -> None:
    out = _import(capsys, project, data_file, "--dry-run")
    assert f"Would import {len(ROWS) - 2} of {len(ROWS) - 1} rows; would skip 1." in out
    summary = json.loads(_import(capsys, project, data_file, "--dry-run", "--json"))
    assert summary["to_import"] == len(ROWS) - 2
    assert json.loads(ok(capsys, "samples", "--project", project, "--json")) == []


def test_import_needs_exactly_one_language_source(
    capsys: pytest.CaptureFixture[str], project: str, data_file: Path
) -> None:
    code, _, err = run(
        capsys, "import", "--project", project, str(data_file), "--text-column", "text", "--language", "en",
        "--language-column", "language",
    )  # fmt: skip
    assert_one_error_line(code, err, "exactly one of --language-column C or --language L")


def test_samples_json_shape(capsys: pytest.CaptureFixture[str], project: str, data_file: Path) -> None:
    _import(capsys, project, data_file)
    samples = json.loads(ok(capsys, "samples", "--project", project, "--json"))
    assert len(samples) == len(ROWS) - 2
    for sample in samples:
        assert set(sample) == {"id", "text", "label", "language", "split", "origin", "status", "flags"}
        assert sample["flags"] == []
        assert sample["origin"] == "human" and sample["status"] == "accepted"
    assert sorted(s["text"] for s in samples) == sorted(r[0] for r in ROWS[1:] if r[0])

    swahili = json.loads(ok(capsys, "samples", "--project", project, "--language", "sw", "--json"))
    assert sorted(s["text"] for s in swahili) == ["=1+1", "nimetozwa pesa mara mbili"]
    limited = json.loads(ok(capsys, "samples", "--project", project, "--limit", "2", "--json"))
    assert [s["id"] for s in limited] == [s["id"] for s in samples[:2]]
    table = ok(capsys, "samples", "--project", project, "--search", "BILL")
    assert "my bill is wrong" in table and "network" not in table


def test_samples_counts_json(capsys: pytest.CaptureFixture[str], project: str, data_file: Path) -> None:
    _import(capsys, project, data_file)
    counts = json.loads(ok(capsys, "samples", "--project", project, "--counts", "--json"))
    expected = Counter((r[2], r[1]) for r in ROWS[1:] if r[0])
    assert {(c["language"], c["label"]): c["count"] for c in counts} == dict(expected)
    assert {c["status"] for c in counts} == {"accepted"}
    assert all(set(c) == {"language", "label", "status", "count"} for c in counts)


def test_export_writes_the_file(
    capsys: pytest.CaptureFixture[str], project: str, data_file: Path, tmp_path: Path
) -> None:
    _import(capsys, project, data_file)
    out_path = tmp_path / "out" / "support.jsonl"
    out = ok(capsys, "export", "--project", project, "--format", "jsonl", str(out_path), "--split", "test")
    assert out.strip() == f"Exported 2 samples to {out_path}"
    records = [json.loads(line) for line in out_path.read_text(encoding="utf-8").splitlines()]
    assert sorted(r["text"] for r in records) == ["=1+1", "the network is down"]

    csv_path = tmp_path / "support.csv"
    ok(capsys, "export", "--project", project, "--format", "csv", str(csv_path))
    with csv_path.open(newline="", encoding="utf-8") as handle:
        texts = sorted(row["text"] for row in csv.DictReader(handle))
    assert "'=1+1" in texts


def test_errors_are_one_line_without_traceback(
    capsys: pytest.CaptureFixture[str], project: str, tmp_path: Path
) -> None:
    code, _, err = run(capsys, "samples", "--project", "Nope", "--json")
    assert_one_error_line(code, err, "There is no project called 'Nope'")

    missing = tmp_path / "missing.csv"
    code, _, err = run(capsys, "import", "--project", project, str(missing), "--text-column", "t", "--language", "en")
    assert_one_error_line(code, err, "There is no file or folder", "missing.csv")

    broken = tmp_path / "broken.csv"
    broken.write_text('text,label\n"open quote,billing\n', encoding="utf-8")
    code, _, err = run(capsys, "import", "--project", project, str(broken), "--text-column", "text", "--language", "en")
    assert_one_error_line(code, err, "broken.csv", "never closed")

    unknown_label = tmp_path / "labels.csv"
    unknown_label.write_text("text,label\nhello,refund\n", encoding="utf-8")
    code, _, err = run(
        capsys, "import", "--project", project, str(unknown_label), "--text-column", "text", "--label-column",
        "label", "--language", "en",
    )  # fmt: skip
    assert_one_error_line(code, err, "Nothing was imported", "'refund' is not in the project", "--add-labels")

    code, _, err = run(capsys, "export", "--project", "Nope", "--format", "csv", str(tmp_path / "x.csv"))
    assert_one_error_line(code, err, "no project called 'Nope'")
    code, _, err = run(capsys, "jobs", "show", "42")
    assert_one_error_line(code, err, "There is no job #42")


def _subcommands() -> list[list[str]]:
    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> list[list[str]]:
        found = []
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    found.append([*prefix, name])
                    found.extend(walk(child, [*prefix, name]))
        return found

    return walk(build_parser(), [])


def test_the_parser_has_the_expected_commands() -> None:
    commands = {" ".join(c) for c in _subcommands()}
    assert {"init", "projects", "import", "export", "samples", "jobs", "jobs wait", "jobs show"} <= commands


@pytest.mark.parametrize("command", [[], *_subcommands()], ids=lambda c: " ".join(c) or "top")
def test_help_works_for_every_command(capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m core")
    assert " ".join(command) in out.splitlines()[0]


def test_jobs_wait_in_the_foreground_and_the_job_list(capsys: pytest.CaptureFixture[str]) -> None:
    out = ok(capsys, "jobs", "wait", "--seconds", "0.1", "--steps", "2")
    assert "Job #1: done" in out
    jobs = json.loads(ok(capsys, "jobs", "--json"))
    assert [(j["id"], j["kind"], j["status"], j["progress"]) for j in jobs] == [(1, "wait", "done", 1.0)]
    shown = json.loads(ok(capsys, "jobs", "show", "1", "--json"))
    assert shown["result"]["steps"] == 2
    assert "Job #1 wait: done" in ok(capsys, "jobs", "show", "1")


def _python_m_core(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update({"STUDIO_HOME": str(home), "STUDIO_USER": "cli-user", "STUDIO_DEMO": "0"})
    return subprocess.run(
        [sys.executable, "-m", "core", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_as_a_real_process(tmp_path: Path, data_file: Path) -> None:
    home = tmp_path / "cli-home"
    created = _python_m_core(home, "init", "--project", "Proc", "--labels", "billing,outage", "--languages", "en,sw")
    assert created.returncode == 0, created.stderr
    assert "Created project 'Proc'" in created.stdout
    assert (home / "studio.db").exists()

    failed = _python_m_core(
        home, "import", "--project", "Nope", str(data_file), "--text-column", "t", "--language", "en"
    )
    assert failed.stdout == ""
    assert_one_error_line(failed.returncode, failed.stderr, "There is no project called 'Nope'")
