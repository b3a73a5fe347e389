"""A throwaway PostgreSQL database for a bench run, on the server of an admin URL."""

from __future__ import annotations

import uuid
from collections.abc import Callable


def postgres_database(admin_url: str, prefix: str) -> tuple[str, Callable[[], None]]:
    """A new empty database named `prefix_<random>`: its URL, and a function that drops it."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), drop
