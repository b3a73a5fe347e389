"""Every file of the paper's benchmark data imports as it is, through the CLI, with counts checked independently."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from core.cli import main
from core.store import open_store
from core.store.projects import get_project
from core.store.samples import SampleFilter, count_by_language_label_status

TASKS = ("intent", "sentiment", "topic")
KINDS = {  # file name part -> (split, origin)
    "test": ("test", "human"),
    "train_full": ("train", "synthetic"),
    "train_human_parsed": ("train", "human"),
}


def _is_empty(text: str | None) -> bool:
    return text is None or not text.strip() or text.strip().lower() == "nan"


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(list(args))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def _import(capsys: pytest.CaptureFixture[str], task: str, path: Path) -> dict:
    language, kind = path.stem.split("-", 1)
    split, origin = KINDS[kind]
    out = _run(
        capsys,
        "import",
        "--project",
        task,
        str(path),
        "--text-column",
        "text",
        "--label-column",
        "intent",
        "--language",
        language,
        "--split",
        split,
        "--origin",
        origin,
        "--json",
    )
    return json.loads(out)


@pytest.mark.slow
def test_every_paper_file_imports_with_the_right_counts(paper_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = {task: sorted((paper_data / task).glob("*.csv")) for task in TASKS}
    assert sum(len(f) for f in files.values()) >= 71  # 3 tasks x 8 languages x 3 files; one is missing upstream
    for task, paths in files.items():
        assert {p.stem.split("-", 1)[1] for p in paths} == set(KINDS), task
        assert len({p.stem.split("-", 1)[0] for p in paths}) == 8, task

    store = open_store()
    try:
        for task, paths in files.items():
            tables = {path: _read(path) for path in paths}
            labels = sorted({r["intent"] for rows in tables.values() for r in rows if not _is_empty(r["text"])})
            languages = sorted({p.stem.split("-", 1)[0] for p in paths})
            _run(capsys, "init", "--project", task, "--labels", ",".join(labels), "--languages", ",".join(languages))
            project_id = get_project(store, task).id

            for path, rows in tables.items():
                kept = [r for r in rows if not _is_empty(r["text"])]
                result = _import(capsys, task, path)
                assert result["imported"] == len(kept), path.name
                assert result["skipped"] == len(rows) - len(kept), path.name
                if len(kept) < len(rows):
                    assert result["skipped_reasons"] == {"empty or missing text": len(rows) - len(kept)}

                # what the store holds for this file, per label and status, against the file itself
                language, kind = path.stem.split("-", 1)
                split, origin = KINDS[kind]
                flt = SampleFilter(languages=(language,), splits=(split,), origins=(origin,))
                held = Counter()
                for row in count_by_language_label_status(store, project_id, flt):
                    assert row.status == ("accepted" if origin == "human" else "pending")
                    held[row.label] += row.count
                assert held == Counter(r["intent"] for r in kept), path.name

            # importing every file again adds nothing
            for path in paths:
                again = _import(capsys, task, path)
                assert again["imported"] == 0, path.name
    finally:
        store.dispose()


def test_empty_texts_in_a_paper_file_are_reported_and_skipped_and_nan_is_a_text(
    paper_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = paper_data / "intent" / "en-test.csv"
    rows = _read(source)
    rows[4]["text"] = ""
    rows[9]["text"] = "NaN"  # a word in a CSV file: stored as given
    rows[10]["text"] = "  "
    damaged = tmp_path / "en-test.csv"
    with damaged.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    labels = sorted({r["intent"] for r in rows})
    _run(capsys, "init", "--project", "intent", "--labels", ",".join(labels), "--languages", "en")

    out = _run(
        capsys,
        "import",
        "--project",
        "intent",
        str(damaged),
        "--text-column",
        "text",
        "--label-column",
        "intent",
        "--language",
        "en",
        "--split",
        "test",
    )
    assert f"Imported {len(rows) - 2} samples into 'intent'; skipped 2." in out
    assert "skipped 2: empty or missing text" in out
