"""The demo project: what `init --demo` creates, first-start creation, and that its data can actually be learned."""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from core.cli import main
from core.demo import DEMO_DIR, create_demo_project, demo_definition, ensure_demo_on_first_start
from core.store import Store, open_store
from core.store.projects import create_project, delete_project, list_projects, parse_spec
from core.store.samples import SampleFilter, count_by_language_label_status, count_samples, iter_samples


def _file_records() -> list[dict]:
    lines = (DEMO_DIR / "demo_samples.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_the_demo_files_plant_problems_for_curation() -> None:
    notes = Counter(r["note"].split(":")[0] for r in _file_records())
    assert notes["near_duplicate"] >= 3
    assert notes["wrong_language"] >= 3
    assert all(r["note"] == "" for r in _file_records() if r["origin"] == "human")


def test_init_demo_creates_the_demo_project(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", "--demo"]) == 0
    assert "Demo project ready" in capsys.readouterr().out

    store = open_store()
    try:
        (project,) = list_projects(store)
        definition = demo_definition()
        assert project.name == definition["name"]
        assert len(project.languages) >= 5
        assert len(project.labels) >= 3
        for label in definition["labels"]:  # the per-language label names are kept
            for code, name in label.get("names", {}).items():
                assert project.label(label["name"]).name_in(code) == name

        records = _file_records()
        assert count_samples(store, project.id) == len(records)

        human_test = Counter()
        for row in count_by_language_label_status(
            store, project.id, SampleFilter(origins=("human",), splits=("test",))
        ):
            human_test[row.language] += row.count
            assert row.status == "accepted"
        synthetic = Counter()
        flt = SampleFilter(origins=("synthetic",), splits=("train",))
        for row in count_by_language_label_status(store, project.id, flt):
            synthetic[(row.language, row.label)] += row.count
            assert row.status == "pending"
        for code in project.language_codes:
            assert human_test[code] >= 30, code
            for label in project.label_names:
                assert synthetic[(code, label)] >= 30, (code, label)

        # asking again returns the same project and adds nothing
        assert main(["init", "--demo"]) == 0
        assert len(list_projects(store)) == 1
        assert count_samples(store, project.id) == len(records)
    finally:
        store.dispose()


def test_first_start_creates_the_demo_once(sqlite_store: Store) -> None:
    created = ensure_demo_on_first_start(sqlite_store)
    assert created is not None
    assert ensure_demo_on_first_start(sqlite_store) is None
    assert [p.name for p in list_projects(sqlite_store)] == [created.name]

    delete_project(sqlite_store, created.id)
    assert ensure_demo_on_first_start(sqlite_store) is None  # a deleted demo does not come back
    assert list_projects(sqlite_store) == []


def test_first_start_leaves_a_store_with_projects_alone(sqlite_store: Store) -> None:
    create_project(sqlite_store, parse_spec(name="Mine", labels=[{"name": "a"}], languages=[{"code": "en"}]))
    assert ensure_demo_on_first_start(sqlite_store) is None
    assert [p.name for p in list_projects(sqlite_store)] == ["Mine"]


def test_a_classifier_trained_on_the_synthetic_part_beats_chance_in_every_language(sqlite_store: Store) -> None:
    project = create_demo_project(sqlite_store)
    train = list(iter_samples(sqlite_store, project.id, SampleFilter(origins=("synthetic",), splits=("train",))))
    test = list(iter_samples(sqlite_store, project.id, SampleFilter(origins=("human",), splits=("test",))))
    assert train and test

    model = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4)),
        LogisticRegression(max_iter=2000),
    )
    model.fit([s.text for s in train], [s.label for s in train])
    predicted = model.predict([s.text for s in test])

    hits: dict[str, list[bool]] = defaultdict(list)
    for sample, label in zip(test, predicted, strict=True):
        hits[sample.language].append(sample.label == label)
    chance = 1 / len(project.labels)
    accuracy = {language: sum(h) / len(h) for language, h in hits.items()}
    assert set(accuracy) == set(project.language_codes)
    for language, value in accuracy.items():
        assert value > chance + 0.15, f"{language}: accuracy {value:.2f} vs chance {chance:.2f} ({accuracy})"
