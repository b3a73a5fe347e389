"""Agreement, gold checks and the export of judgements, on SQLite and PostgreSQL: the kappa of each pair and the
alpha over everyone (overall and per language) equal sklearn's and krippendorff's on the judgements read back from
the exported file; intervals hold the figures; gold checks are mixed into queues unannounced and scored."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from itertools import combinations
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from core.front.data import export_to_file
from core.front.projects import Project
from core.front.review import (
    agreement,
    assign,
    gold_accuracy,
    judge,
    mark_gold,
    my_queue,
    sample_judgements,
    set_review_settings,
    unmark_gold,
)
from core.store import Store
from core.store.samples import get_sample
from tests.review.support import Team, make_project, make_team

NAMES = ("anna", "ben", "cara", "dan")


def _judge_everything(team: Team, project: Project) -> None:
    """Each annotator judges their whole queue; disagreements planted by sample number and annotator."""
    for index, name in enumerate(NAMES):
        for entry in my_queue(team[name], project).entries:
            if entry.sample_id % 5 == index:
                judge(team[name], project, entry.sample_id, "reject", seconds=10.0 + index)
            elif entry.sample_id % 7 == index:
                judge(team[name], project, entry.sample_id, "label", label="prices", seconds=4.0)
            else:
                judge(team[name], project, entry.sample_id, "accept", seconds=2.0 + index)


def _exported(team: Team, project: Project, path: Path) -> list[dict[str, object]]:
    export_to_file(team.lead, project, "jsonl", path)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _value(judgement: dict[str, object]) -> str:
    return "rejected" if judgement["decision"] == "reject" else f"label:{judgement['label']}"


def test_kappa_and_alpha_equal_sklearn_and_krippendorff_on_the_exported_judgements(
    store: Store, tmp_path: Path
) -> None:
    team = make_team(store, {name: ["en", "sw"] for name in NAMES})
    project = make_project(team, {"en": 36, "sw": 24})
    assign(team.lead, project, list(NAMES), overlap=3)
    _judge_everything(team, project)

    report = agreement(team.lead, project, resamples=200)
    public = report.to_public()
    rows = _exported(team, project, tmp_path / "crops.jsonl")

    ratings: dict[int, dict[str, str]] = {
        int(row["id"]): {str(j["annotator"]): _value(j) for j in json.loads(str(row["judgements"]))} for row in rows
    }
    language = {int(row["id"]): str(row["language"]) for row in rows}
    codes = {value: code for code, value in enumerate(sorted({v for r in ratings.values() for v in r.values()}))}

    def alpha(items: list[int]) -> float:
        matrix = [[codes[ratings[i][name]] if name in ratings[i] else np.nan for i in items] for name in NAMES]
        return float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"))

    assert set(public) >= {"alpha", "pairs", "per_language", "n_items"}
    assert public["n_items"] == 60 == report.n_items
    assert public["alpha"] == pytest.approx(alpha(sorted(ratings)), abs=1e-12)
    assert public["alpha_interval"][0] <= public["alpha"] <= public["alpha_interval"][1]
    for code in ("en", "sw"):
        items = sorted(i for i in ratings if language[i] == code)
        assert public["per_language"][code]["alpha"] == pytest.approx(alpha(items), abs=1e-12)
        assert public["per_language"][code]["n_items"] == len(items)
    by_pair = {tuple(pair["annotators"]): pair for pair in public["pairs"]}
    assert set(by_pair) == set(combinations(NAMES, 2))
    for (first, second), pair in by_pair.items():
        both = [i for i in sorted(ratings) if first in ratings[i] and second in ratings[i]]
        expected = cohen_kappa_score([ratings[i][first] for i in both], [ratings[i][second] for i in both])
        assert pair["kappa"] == pytest.approx(expected, abs=1e-12)
        assert pair["n_items"] == len(both)
        low, high = pair["kappa_interval"]
        assert low <= pair["kappa"] <= high


def test_each_annotator_against_the_decisions_and_their_throughput(store: Store) -> None:
    team = make_team(store, {name: ["en"] for name in NAMES})
    project = make_project(team, {"en": 30})
    set_review_settings(team.lead, project, rule="majority")
    assign(team.lead, project, list(NAMES), overlap=3)
    _judge_everything(team, project)

    report = agreement(team.lead, project, resamples=0)

    assert report.overall.alpha.low is None  # no resampling asked for
    seconds: dict[str, list[float]] = defaultdict(list)
    matches: dict[str, list[bool]] = defaultdict(list)
    for sample_id in range(1, 31):
        sample = get_sample(store, sample_id)
        assert sample is not None
        decided = None if sample.status == "pending" else (sample.status, sample.label)
        for j in sample_judgements(team.lead, sample_id):
            assert j.seconds is not None
            seconds[j.annotator].append(j.seconds)
            if decided is not None:
                given = ("rejected", None) if j.decision == "reject" else ("accepted", j.label)
                matches[j.annotator].append(given == decided)
    assert any(not all(flags) for flags in matches.values()), "the planted disagreements reach the decisions"
    assert [row.annotator for row in report.annotators] == list(NAMES)
    for row in report.annotators:
        own = seconds[row.annotator]
        assert row.judgements == len(own)
        assert row.median_seconds == statistics.median(own)
        assert row.judgements_per_hour == pytest.approx(3600 * len(own) / sum(own))
        assert row.n_resolved == len(matches[row.annotator])
        assert row.agreement_with_resolved == pytest.approx(sum(matches[row.annotator]) / row.n_resolved)
        assert (row.gold_accuracy, row.n_gold) == (None, 0)


def test_gold_checks_are_mixed_in_unannounced_and_scored(store: Store) -> None:
    team = make_team(store, {"anna": ["en"], "ben": ["en"]})
    project = make_project(team, {"en": 106}, origin="human")
    gold_ids = [101, 102, 103, 104, 105, 106]
    marked = mark_gold(team.lead, project, gold_ids)
    assert marked.message == "Marked 6 samples as gold."
    assert mark_gold(team.lead, project, [101, 999]).message == (
        "Marked 0 samples as gold. 1 were gold already. 1 left as they are: not in this project."
    )
    set_review_settings(team.lead, project, gold=True)

    result = assign(team.lead, project, ["anna", "ben"], overlap=1)

    assert result.samples == 100 and result.gold == 10  # one check per ten samples each
    for name, wrong_on_gold in (("anna", False), ("ben", True)):
        queue = my_queue(team[name], project)
        assert queue.open == 55
        seen_gold = [e.sample_id for e in queue.entries if e.sample_id in gold_ids]
        assert len(seen_gold) == 5
        assert [e.sample_id for e in queue.entries] != sorted(e.sample_id for e in queue.entries)  # mixed in
        for entry in queue.entries:
            wrong = wrong_on_gold and entry.sample_id in gold_ids
            judge(team[name], project, entry.sample_id, "reject" if wrong else "accept")
    scores = {row.annotator: (row.checked, row.correct, row.accuracy) for row in gold_accuracy(team.lead, project)}
    assert scores == {"anna": (5, 5, 1.0), "ben": (5, 0, 0.0)}
    assert all(get_sample(store, i).status == "pending" for i in gold_ids)  # type: ignore[union-attr]
    assert {row.annotator: row.gold_accuracy for row in agreement(team.lead, project, resamples=0).annotators} == {
        "anna": 1.0,
        "ben": 0.0,
    }
    assert unmark_gold(team.lead, project, gold_ids).changed == 6


@pytest.mark.parametrize("fmt", ["parquet", "hf"])
def test_every_export_carries_the_judgements(store: Store, tmp_path: Path, fmt: str) -> None:
    team = make_team(store, {"anna": ["en"], "ben": ["en"]})
    project = make_project(team, {"en": 4})
    assign(team.lead, project, ["anna", "ben"], overlap=2)
    first = my_queue(team["anna"], project).entries[0].sample_id
    judge(team["anna"], project, first, "label", label="prices", seconds=7.5)
    judge(team["ben"], project, first, "reject")

    out = tmp_path / f"export.{fmt}"
    export_to_file(team.lead, project, fmt, out)
    if fmt == "parquet":
        frame = pd.read_parquet(out)
    else:
        import datasets

        frame = datasets.load_from_disk(str(out))["train"].to_pandas()
    by_id = {int(row["id"]): json.loads(row["judgements"]) for _, row in frame.iterrows()}
    assert len(by_id) == 4
    assert [(j["annotator"], j["decision"], j["label"], j["seconds"]) for j in by_id[first]] == [
        ("anna", "label", "prices", 7.5),
        ("ben", "reject", None, None),
    ]
    assert sum(1 for judgements in by_id.values() if judgements == []) == 3
