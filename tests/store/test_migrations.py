"""Schema migrations: a database made by an older studio is upgraded in place, keeping its data."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from core.store import Store
from core.store.database import alembic_config
from core.store.projects import get_project
from core.store.samples import page_samples


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_first_version_database_upgrades_to_the_newest_schema_with_its_data(
    backend: str, studio_home: Path, request: pytest.FixtureRequest
) -> None:
    studio_home.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{studio_home / 'old.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    with engine.begin() as connection:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO projects (id, name, task, encoder, created_at, created_by, updated_at, updated_by) "
                "VALUES (1, 'old', '', 'bundled:multilingual-e5-small', '2026-01-01', 'a', '2026-01-01', 'a')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO project_labels (project_id, position, name, description, names) "
                "VALUES (1, 0, 'x', '', '{}')"
            )
        )
        connection.execute(
            text("INSERT INTO project_languages (project_id, position, code, name) VALUES (1, 0, 'sw', 'Swahili')")
        )
        connection.execute(
            text(
                "INSERT INTO samples (project_id, text, label, language, origin, split, status, content_key, source, "
                "version, created_at, created_by, updated_at, updated_by) VALUES "
                "(1, 'habari', 'x', 'sw', 'human', 'train', 'accepted', 'k', 'f', 1, "
                "'2026-01-01', 'a', '2026-01-01', 'a')"
            )
        )
    assert "generation_runs" not in inspect(engine).get_table_names()
    engine.dispose()

    store = Store(url, "tester")  # opening the store migrates
    assert {"generation_runs", "llm_requests", "prompt_templates"} <= set(inspect(store.engine).get_table_names())
    assert get_project(store, "old").label_names == ["x"]
    [sample] = page_samples(store, 1).samples
    assert (sample.text, sample.label, sample.language) == ("habari", "x", "sw")
    store.dispose()
