"""Migration 0014: the queues' indexes replace the old ones on a store with samples and flags, and back."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from core.store import Store
from core.store.database import alembic_config
from core.store.samples import SampleFilter, count_samples, flag_kinds, review_step
from tests.store.old_databases import add_old_project, add_old_sample, database_at, schema_differences

OLD = {
    "ix_samples_project_status",
    "ix_samples_project_lang_label",
    "ix_flags_project_kind",
    "ix_sample_flags_sample_id",
    "ix_review_items_project_state",
}
NEW = {"ix_samples_status_queue", "ix_samples_language_queue", "ix_flags_project_kind_sample", "ix_review_items_queue"}
HEAD = NEW - {"ix_samples_language_queue"}  # 0015: counts by language come from the tallies


def _indexes(engine) -> set[str]:  # type: ignore[no-untyped-def]
    found = inspect(engine)
    tables = ("samples", "sample_flags", "review_items")
    return {index["name"] for table in tables for index in found.get_indexes(table)}


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_queue_indexes_replace_the_old_ones_and_keep_the_samples(
    backend: str, studio_home: Path, request: pytest.FixtureRequest
) -> None:
    studio_home.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{studio_home / 'old.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    engine = database_at(url, "0013")
    with engine.begin() as connection:
        add_old_project(connection)
        for i, status in enumerate(("pending", "accepted", "pending"), start=1):
            add_old_sample(connection, i, label="x", status=status)
        connection.execute(
            text(
                "INSERT INTO sample_flags (sample_id, project_id, kind, reason, details, created_at) "
                "VALUES (3, 1, 'too_short', 'short', '{}', '2026-01-01')"
            )
        )
    assert _indexes(engine) >= OLD and not NEW & _indexes(engine)
    engine.dispose()

    store = Store(url, "tester")  # opening the store migrates
    assert _indexes(store.engine) >= HEAD and not OLD & _indexes(store.engine)
    assert schema_differences(store) == []
    flagged = SampleFilter(statuses=("pending",), flags=("any",))
    step = review_step(store, 1, flagged, None)
    assert step.sample is not None and (step.sample.id, step.position, step.total) == (3, 1, 1)
    assert [f.kind for f in step.sample.flags] == ["too_short"]
    assert count_samples(store, 1, SampleFilter(statuses=("pending",))) == 2 and flag_kinds(store, 1) == ["too_short"]
    store.dispose()

    engine = create_engine(url)
    config = alembic_config(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0013")
    assert _indexes(engine) >= OLD and not NEW & _indexes(engine)
    engine.dispose()
