"""The studio's configuration: one object, read from environment variables once.

| variable | default | meaning |
|---|---|---|
| STUDIO_HOME | ~/.distill-studio | data folder: database, models, job logs, artifacts |
| STUDIO_DATABASE_URL | sqlite:///$STUDIO_HOME/studio.db | any SQLAlchemy URL (PostgreSQL for a team) |
| STUDIO_USER | the operating-system login | who is recorded in the action log |
| STUDIO_DEFAULT_ENCODER | bundled:multilingual-e5-small | encoder given to new projects |
| STUDIO_MAX_HEAVY_JOBS | 1 | heavy jobs that may run at once on one machine |
| STUDIO_DEMO | 1 | create the demo project on first start (0 to skip) |
| STUDIO_MAX_ARCHIVE_BYTES | 4000000000 (4 GB) | the most a zipped import may unpack to (bytes) |
| STUDIO_MAX_ARCHIVE_FILES | 10000 | the most files a zipped import may hold |
| STUDIO_MAX_TEXT_CHARS | 20000 | the longest sample text an import accepts (characters) |
| STUDIO_IMPORT_FOLDERS | $STUDIO_HOME/imports | folders the pages may read files from (os.pathsep-separated) |
| STUDIO_LLM_CONNECT_TIMEOUT | 10 | seconds to connect to an LLM server (a run's default) |
| STUDIO_LLM_IDLE_TIMEOUT | 300 | seconds an LLM server may stay silent (before its first token, or between tokens) |
| STUDIO_LLM_TIMEOUT | 0 (none) | seconds one answer may take in all |
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from core.errors import StudioError

DEFAULT_ENCODER = "bundled:multilingual-e5-small"
DEFAULT_MAX_ARCHIVE_BYTES = 4_000_000_000
DEFAULT_MAX_ARCHIVE_FILES = 10_000
DEFAULT_MAX_TEXT_CHARS = 20_000
# an LLM server on a CPU may read a long prompt for a minute before its first token, and write a few tokens a second
DEFAULT_LLM_CONNECT_TIMEOUT = 10.0
DEFAULT_LLM_IDLE_TIMEOUT = 300.0


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
    max_archive_bytes: int = DEFAULT_MAX_ARCHIVE_BYTES
    max_archive_files: int = DEFAULT_MAX_ARCHIVE_FILES
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS
    import_folders: tuple[Path, ...] = ()  # resolved; settings_from_env gives `imports/` in the home by default
    llm_connect_timeout: float = DEFAULT_LLM_CONNECT_TIMEOUT
    llm_idle_timeout: float = DEFAULT_LLM_IDLE_TIMEOUT
    llm_timeout: float | None = None  # a whole answer; None: no limit

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
        """Uploaded files, for the moment they are read (owner-only: 0700)."""
        return self.home / "uploads"

    @property
    def unpack_dir(self) -> Path:
        """Where zipped imports are unpacked, each into its own folder that is removed afterwards."""
        return self.home / "unpacking"

    @property
    def default_import_folder(self) -> Path:
        return self.home / "imports"

    def ensure_dirs(self) -> None:
        for folder in (self.home, self.logs_dir, self.models_dir, self.runs_dir, self.locks_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.uploads_dir.mkdir(mode=0o700, exist_ok=True)


def _whole_number(env: dict[str, str], name: str, default: int) -> int:
    raw = (env.get(name) or "").strip().replace("_", "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise StudioError(f"{name} must be a whole number (it is '{env[name]}').") from None
    if value < 1:
        raise StudioError(f"{name} must be 1 or more (it is {value}).")
    return value


def _seconds(env: dict[str, str], name: str, default: float | None) -> float | None:
    """A number of seconds; 0 means no limit (None)."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise StudioError(f"{name} must be a number of seconds (it is '{raw}').") from None
    if value < 0:
        raise StudioError(f"{name} must be 0 (no limit) or more (it is {raw}).")
    return value or None


def _folders(raw: str | None) -> tuple[Path, ...]:
    parts = [part.strip() for part in (raw or "").split(os.pathsep) if part.strip()]
    return tuple(dict.fromkeys(Path(part).expanduser().resolve() for part in parts))


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
        max_archive_bytes=_whole_number(env, "STUDIO_MAX_ARCHIVE_BYTES", DEFAULT_MAX_ARCHIVE_BYTES),
        max_archive_files=_whole_number(env, "STUDIO_MAX_ARCHIVE_FILES", DEFAULT_MAX_ARCHIVE_FILES),
        max_text_chars=_whole_number(env, "STUDIO_MAX_TEXT_CHARS", DEFAULT_MAX_TEXT_CHARS),
        import_folders=_folders(env.get("STUDIO_IMPORT_FOLDERS")) or (home / "imports",),
        llm_connect_timeout=_seconds(env, "STUDIO_LLM_CONNECT_TIMEOUT", DEFAULT_LLM_CONNECT_TIMEOUT)
        or DEFAULT_LLM_CONNECT_TIMEOUT,
        llm_idle_timeout=_seconds(env, "STUDIO_LLM_IDLE_TIMEOUT", DEFAULT_LLM_IDLE_TIMEOUT) or DEFAULT_LLM_IDLE_TIMEOUT,
        llm_timeout=_seconds(env, "STUDIO_LLM_TIMEOUT", None),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once. Tests call `reset_settings()` after changing the environment."""
    settings = settings_from_env()
    settings.ensure_dirs()
    return settings


def reset_settings() -> None:
    get_settings.cache_clear()
