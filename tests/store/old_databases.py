"""A database as an older studio left it, for the tests of a migration: migrated up to one revision only, then a
project and samples written with plain SQL (the models of today would not fit that schema)."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, create_engine, text

from core.store.database import Store, alembic_config
from core.store.schema import Base


def database_at(url: str, revision: str) -> Engine:
    engine = create_engine(url)
    config = alembic_config(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return engine


def add_old_project(connection: Connection) -> None:
    """Project 1, 'old'."""
    connection.execute(
        text(
            "INSERT INTO projects (id, name, task, encoder, created_at, created_by, updated_at, updated_by) "
            "VALUES (1, 'old', '', 'bundled:multilingual-e5-small', '2026-01-01', 'a', '2026-01-01', 'a')"
        )
    )


def add_old_sample(connection: Connection, sample_id: int, *, label: str | None, status: str) -> None:
    """A Swahili human TRAIN sample of project 1."""
    connection.execute(
        text(
            "INSERT INTO samples (id, project_id, text, label, language, origin, split, status, content_key, "
            "source, version, created_at, created_by, updated_at, updated_by) VALUES "
            "(:id, 1, :text, :label, 'sw', 'human', 'train', :status, :key, 'f', 1, "
            "'2026-01-01', 'a', '2026-01-01', 'a')"
        ),
        {"id": sample_id, "text": f"habari {sample_id}", "label": label, "status": status, "key": f"k{sample_id}"},
    )


def schema_differences(store: Store) -> list[Any]:
    """What the migrated database lacks or has beyond the models (nothing, when the migrations are right)."""
    with store.engine.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))
