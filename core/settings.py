"""The studio's configuration: one object, read from environment variables once.

| variable | default | meaning |
|---|---|---|
| STUDIO_HOME | ~/.distill-studio | data folder: database, models, job logs, artifacts |
| STUDIO_DATABASE_URL | sqlite:///$STUDIO_HOME/studio.db | any SQLAlchemy URL (PostgreSQL for a team) |
| STUDIO_USER | the operating-system login | who is recorded in the action log |
| STUDIO_DEFAULT_ENCODER | bundled:multilingual-e5-small | encoder given to new projects |
| STUDIO_MAX_HEAVY_JOBS | 1 | heavy jobs that may run at once on one machine |
| STUDIO_DEMO | 1 | create the demo project on first start (0 to skip) |
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DEFAULT_ENCODER = "bundled:multilingual-e5-small"


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    user: str
    default_encoder: str = DEFAULT_ENCODER
    max_heavy_jobs: int = 1
    create_demo: bool = True

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"

    @property
    def locks_dir(self) -> Path:
        return self.home / "locks"

    @property
    def uploads_dir(self) -> Path:
        return self.home / "uploads"

    def ensure_dirs(self) -> None:
        for folder in (self.home, self.logs_dir, self.models_dir, self.runs_dir, self.locks_dir, self.uploads_dir):
            folder.mkdir(parents=True, exist_ok=True)


def settings_from_env(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    home = Path(env.get("STUDIO_HOME") or Path.home() / ".distill-studio").expanduser().resolve()
    url = env.get("STUDIO_DATABASE_URL") or f"sqlite:///{home / 'studio.db'}"
    return Settings(
        home=home,
        database_url=url,
        user=(env.get("STUDIO_USER") or _login()).strip() or "unknown",
        default_encoder=env.get("STUDIO_DEFAULT_ENCODER") or DEFAULT_ENCODER,
        max_heavy_jobs=max(1, int(env.get("STUDIO_MAX_HEAVY_JOBS") or 1)),
        create_demo=(env.get("STUDIO_DEMO", "1").strip().lower() not in {"0", "false", "no", "off"}),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once. Tests call `reset_settings()` after changing the environment."""
    settings = settings_from_env()
    settings.ensure_dirs()
    return settings


def reset_settings() -> None:
    get_settings.cache_clear()
