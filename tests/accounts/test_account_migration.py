"""Migration 0009: the accounts and project_members tables appear on an older store, and go away on a downgrade."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect

from core.store import Store
from core.store.database import alembic_config


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_accounts_migration_creates_its_tables(
    backend: str, studio_home: Path, request: pytest.FixtureRequest
) -> None:
    studio_home.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{studio_home / 'old.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    with engine.begin() as connection:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        command.upgrade(config, "0008")
    assert "accounts" not in inspect(engine).get_table_names()

    store = Store(url, "tester")  # opening the store migrates
    inspector = inspect(store.engine)
    assert {"accounts", "project_members"} <= set(inspector.get_table_names())
    assert {c["name"] for c in inspector.get_columns("accounts")} == {
        "id",
        "username",
        "display_name",
        "email",
        "password_hash",
        "role",
        "active",
        "created_at",
        "created_by",
        "last_sign_in_at",
        "password_changed_at",
        "languages",  # migration 0012: the languages an annotator can judge
    }
    nullable = {c["name"] for c in inspector.get_columns("accounts") if c["nullable"]}
    assert {"email", "password_hash", "last_sign_in_at"} <= nullable
    assert "username" not in nullable
    assert {c["name"] for c in inspector.get_columns("project_members")} == {
        "id",
        "project_id",
        "account_id",
        "added_at",
        "added_by",
    }
    targets = {
        fk["referred_table"]: fk["options"].get("ondelete") for fk in inspector.get_foreign_keys("project_members")
    }
    assert {table: (rule or "").upper() for table, rule in targets.items()} == {
        "projects": "CASCADE",
        "accounts": "CASCADE",
    }
    store.dispose()

    with engine.begin() as connection:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        command.downgrade(config, "0008")
    assert not {"accounts", "project_members"} & set(inspect(engine).get_table_names())
    engine.dispose()
