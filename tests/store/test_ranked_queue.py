"""The queues "most doubtful first" and "least sure first" (core/store/ranked_queue.py) on real SQLite and PostgreSQL:
Next and Previous visit the samples a filter keeps in the order of their flag's score (ties, and flags without a
score, in id order), at the right place ("Sample k of N"), also when the flags are replaced in the middle of a walk;
and the score a check gives is stored with its flag."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import Table, select, text

from core.curation.duplicate_flags import Findings
from core.curation.duplicate_flags import replace_flags as store_findings
from core.curation.label_doubt import find_label_doubt_flags
from core.errors import InvalidInput
from core.store import Store
from core.store.bulk import bulk_insert
from core.store.flags import NewFlag, replace_flags
from core.store.projects import Project, create_project, parse_spec
from core.store.ranked_queue import RankKey, ranked_kind, ranked_step
from core.store.sample_texts import SampleItem
from core.store.samples import SampleFilter, content_key, count_samples
from core.store.schema import FlagRow, SampleRow, utcnow
from core.training.uncertainty_job import queue_score
from tests.curation.test_label_doubt import LABELS, clustered
from tests.store.old_databases import add_old_project, add_old_sample, database_at, schema_differences

KIND = "label_doubt"
SCORES = (0.9, 0.75, 0.75, 0.75, 0.5, 0.2, 0.2, None)  # ties, and flags written without a score


def _project(store: Store, n: int = 60, name: str = "ranked") -> tuple[Project, list[int]]:
    spec = parse_spec(name=name, labels=[{"name": "a"}, {"name": "b"}], languages=[{"code": "sw"}, {"code": "en"}])
    project = create_project(store, spec)
    now = utcnow()
    rows = []
    for i in range(n):
        language, status = ("sw", "en")[i % 2], ("pending", "pending", "accepted")[i % 3]
        text = f"sample {i}"
        rows.append(
            {
                "project_id": project.id,
                "text": text,
                "label": "a",
                "language": language,
                "origin": "synthetic",
                "split": "train",
                "status": status,
                "content_key": content_key(text, "a", language, "train", "synthetic"),
                "source": "test",
                "generation_run_id": None,
                "prompt_version": None,
                "model": None,
                "version": 1,
                "created_at": now,
                "created_by": "tester",
                "updated_at": now,
                "updated_by": "tester",
            }
        )
    with store.session() as session:
        bulk_insert(session, cast(Table, SampleRow.__table__), rows)
        ids = list(session.scalars(select(SampleRow.id).where(SampleRow.project_id == project.id)))
    return project, sorted(ids)


def _flag(store: Store, project: Project, ids: list[int], seed: int) -> None:
    """Two thirds of the samples flagged with scores from SCORES (many ties), in a random order of ids; the others
    a flag of another kind (never in the queue)."""
    rng = random.Random(seed)
    flags = [
        NewFlag(i, KIND, f"doubt {i}", {"n": i}, rng.choice(SCORES))
        if rng.random() < 0.67
        else NewFlag(i, "too_short", "short", {}, 5.0)
        for i in rng.sample(ids, len(ids))
    ]
    replace_flags(store, project.id, (KIND, "too_short"), flags)


def _expected(store: Store, project: Project, flt: SampleFilter) -> list[RankKey]:
    """The queue read plainly: every flag of the kind on a sample the filter keeps, sorted in Python."""
    with store.session() as session:
        found = session.execute(
            select(FlagRow.score, FlagRow.sample_id, SampleRow.status, SampleRow.language)
            .join(SampleRow, SampleRow.id == FlagRow.sample_id)
            .where(FlagRow.project_id == project.id, FlagRow.kind == KIND)
        ).all()
    kept = [
        RankKey(score, sample_id)
        for score, sample_id, status, language in found
        if (not flt.statuses or status in flt.statuses) and (not flt.languages or language in flt.languages)
    ]
    return sorted(kept, key=lambda k: (k.score is None, -(k.score or 0.0), k.sample_id))


FILTERS = [
    SampleFilter(flags=(KIND,)),
    SampleFilter(flags=(KIND,), statuses=("pending",)),
    SampleFilter(flags=(KIND,), statuses=("pending",), languages=("en",)),
]


@pytest.mark.parametrize("flt", FILTERS)
def test_next_and_previous_walk_the_queue_in_score_order_at_the_right_places(store: Store, flt: SampleFilter) -> None:
    project, ids = _project(store)
    _flag(store, project, ids, seed=1)
    expected = _expected(store, project, flt)
    assert len({k.score for k in expected}) < len(expected)  # ties
    assert any(k.score is None for k in _expected(store, project, FILTERS[0]))  # and flags without a score

    seen, previous, start = [], None, None
    for position in range(1, len(expected) + 1):
        step = ranked_step(store, project.id, flt, start)
        assert step.sample is not None and step.key is not None and step.flag is not None
        assert (step.position, step.total, step.previous) == (position, len(expected), previous)
        assert step.sample.id == step.key.sample_id and step.flag.kind == KIND
        assert step.flag.reason == f"doubt {step.sample.id}"
        seen.append(step.key)
        previous, start = step.key, step.key.after()
    assert seen == expected
    assert count_samples(store, project.id, flt) == len(expected)  # the same queue as in id order

    # past the end: the first one again; Previous from the last goes back through every one
    assert ranked_step(store, project.id, flt, start).key == expected[0]
    back = [expected[-1]]
    while (step := ranked_step(store, project.id, flt, back[-1])).previous is not None:
        back.append(step.previous)
    assert back == expected[::-1]


def test_the_walk_goes_on_from_its_place_when_the_flags_are_replaced_midway(store: Store) -> None:
    project, ids = _project(store, name="replaced")
    _flag(store, project, ids, seed=2)
    flt = FILTERS[1]
    start = None
    for _ in range(5):
        step = ranked_step(store, project.id, flt, start)
        assert step.key is not None
        start = step.key.after()
    assert start is not None
    _flag(store, project, ids, seed=3)  # the checks ran again: other scores, other samples flagged
    expected = _expected(store, project, flt)
    ahead = [
        k
        for k in expected
        if (k.score is None, -(k.score or 0.0), k.sample_id)
        >= (start.score is None, -(start.score or 0.0), start.sample_id)
    ]
    step = ranked_step(store, project.id, flt, start)
    assert step.key == (ahead[0] if ahead else expected[0])
    assert (step.position, step.total) == (expected.index(step.key) + 1, len(expected))
    walked = [step.key]
    while len(walked) < len(ahead):
        step = ranked_step(store, project.id, flt, walked[-1].after())
        walked.append(step.key)
    assert walked == ahead[: len(walked)]

    replace_flags(store, project.id, (KIND,), [])  # every flag of the kind gone: an empty queue
    empty = ranked_step(store, project.id, flt, start)
    assert (empty.sample, empty.position, empty.total, empty.key, empty.previous) == (None, 0, 0, None, None)


def test_the_score_is_stored_updated_and_only_a_scored_kind_alone_is_ordered(store: Store) -> None:
    project, ids = _project(store, n=3, name="scores")
    replace_flags(store, project.id, (KIND,), [NewFlag(ids[0], KIND, "r", {}, 0.4), NewFlag(ids[1], KIND, "r")])
    replace_flags(store, project.id, (KIND,), [NewFlag(ids[0], KIND, "r", {}, 0.8), NewFlag(ids[1], KIND, "r")])
    with store.session() as session:
        found = session.execute(select(FlagRow.sample_id, FlagRow.score).where(FlagRow.kind == KIND))
        stored = {sample_id: score for sample_id, score in found}
    assert stored == {ids[0]: 0.8, ids[1]: None}  # a new score alone rewrites the flag
    assert ranked_kind(SampleFilter(flags=(KIND,))) == KIND
    assert ranked_kind(SampleFilter(flags=("model_uncertain",), statuses=("unlabeled",))) == "model_uncertain"
    for flt in (SampleFilter(), SampleFilter(flags=("too_short",)), SampleFilter(flags=(KIND, "too_short"))):
        assert ranked_kind(flt) is None
        with pytest.raises(InvalidInput, match="ordered by score"):
            ranked_step(store, project.id, flt, None)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_migration_0017_scores_the_flags_written_before_it(
    backend: str, studio_home: Path, request: pytest.FixtureRequest
) -> None:
    studio_home.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{studio_home / 'old.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    engine = database_at(url, "0016")
    with engine.begin() as connection:
        add_old_project(connection)
        for i in (1, 2, 3, 4):
            add_old_sample(connection, i, label=None, status="unlabeled")
        flags = [
            (1, "label_doubt", "suggests x", {"given_probability": 0.25, "rank": 0}),
            (2, "model_uncertain", "The model is torn", {"score": 0.125, "rank": 0}),
            (3, "model_uncertain", "The model is torn (a near-repeat of a text above)", {"score": 0.0, "rank": 1}),
            (4, "too_short", "short", {}),
        ]
        for sample_id, kind, reason, details in flags:
            connection.execute(
                text(
                    "INSERT INTO sample_flags (sample_id, project_id, kind, reason, details, created_at) "
                    "VALUES (:sample, 1, :kind, :reason, :details, '2026-01-01')"
                ),
                {"sample": sample_id, "kind": kind, "reason": reason, "details": json.dumps(details)},
            )
    engine.dispose()

    store = Store(url, "tester")  # opening the store migrates
    assert schema_differences(store) == []
    with store.engine.connect() as connection:
        scores = dict(connection.execute(text("SELECT sample_id, score FROM sample_flags")).tuples().all())
    assert scores == {1: 0.75, 2: 0.875, 3: -1.0, 4: None}  # the near-repeat after every distinct text
    step = ranked_step(store, 1, SampleFilter(statuses=("unlabeled",), flags=("model_uncertain",)), None)
    assert step.key == RankKey(0.875, 2) and (step.position, step.total) == (1, 2)
    store.dispose()


def test_the_checks_label_doubts_are_walked_in_the_checks_own_rank(store: Store) -> None:
    """The checks' findings (core/curation) stored with their score: the queue "most doubtful first" is the checks'
    rank, 0 first, each score 1 - the probability of the given label."""
    labels, vectors = clustered(per_label=40, seed=5)
    project, ids = _project(store, n=len(labels), name="checks")
    given = list(labels)
    for position in range(3, len(given), 23):  # a few labels swapped to the next one
        given[position] = LABELS[(LABELS.index(labels[position]) + 1) % len(LABELS)]
    items = [
        SampleItem(
            id=ids[p], text=f"text {p}", label=label, language="sw", split="train", origin="synthetic", status="pending"
        )
        for p, label in enumerate(given)
    ]
    findings = Findings()
    flagged = find_label_doubt_flags(items, vectors, findings)
    assert flagged >= 3
    store_findings(store, project.id, ("label_doubt",), findings)

    flt, start, ranks = SampleFilter(flags=(KIND,)), None, []
    for _ in range(flagged):
        step = ranked_step(store, project.id, flt, start)
        assert step.flag is not None and step.key is not None and step.total == flagged
        assert step.score == pytest.approx(1.0 - step.flag.details["given_probability"], abs=1e-4)
        ranks.append(step.flag.details["rank"])
        start = step.key.after()
    assert ranks == list(range(flagged))


def test_the_ranking_jobs_score_puts_near_repeats_after_every_distinct_text() -> None:
    assert queue_score(0.25, near_repeat=False) == 0.75  # 1 - the margin between the two best labels
    assert queue_score(0.0, near_repeat=True) == -1.0  # the least sure near-repeat: after the surest distinct one
    assert max(queue_score(m / 10, near_repeat=True) for m in range(11)) < min(
        queue_score(m / 10, near_repeat=False) for m in range(11)
    )
