"""Settings and models at the front door: the project's encoder, the models on this machine, the LLM servers set up
on the studio's server, and the studio's configuration as a table."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from core.embeddings import embed_job
from core.embeddings.encoders import ENGINES
from core.front.actor import Actor
from core.front.permissions import needs, reads
from core.generation import key_places
from core.generation.key_places import ConfiguredServer as ConfiguredServer
from core.jobs.queue import Job
from core.models import provision_job, resolver
from core.models.resolver import BUNDLED_MODELS as BUNDLED_MODELS
from core.models.resolver import ProvisionedModel as ProvisionedModel
from core.secrets import redact as redact
from core.settings import get_settings
from core.store import projects
from core.store.projects import Project

__all__ = [
    "BUNDLED_MODELS",
    "EMBEDDING_ENGINES",
    "ConfiguredServer",
    "ModelFolder",
    "ProvisionedModel",
    "SettingRow",
    "configured_servers",
    "launch_embedding",
    "launch_provision",
    "provision_model",
    "provisioned_models",
    "redact",
    "set_encoder",
    "studio_configuration",
]

EMBEDDING_ENGINES: tuple[str, ...] = ENGINES  # what `embed --engine` and the settings may name


@dataclass(frozen=True)
class SettingRow:
    """One line of the studio's configuration: what it is, the environment variable that sets it, its value."""

    setting: str
    variable: str
    value: str


@reads
def studio_configuration(actor: Actor) -> list[SettingRow]:
    """The configuration the studio started with (the database address without its password)."""
    settings = get_settings()
    url = make_url(settings.database_url).render_as_string(hide_password=True)
    rows = [
        SettingRow("data folder", "STUDIO_HOME", str(settings.home)),
        SettingRow("database", "STUDIO_DATABASE_URL", url),
        SettingRow("user", "STUDIO_USER", settings.user),
        SettingRow("default encoder", "STUDIO_DEFAULT_ENCODER", settings.default_encoder),
        SettingRow("heavy jobs at once", "STUDIO_MAX_HEAVY_JOBS", str(settings.max_heavy_jobs)),
        SettingRow("artifact folder", "STUDIO_ARTIFACT_ROOT", str(settings.artifacts)),
        SettingRow("where jobs run", "STUDIO_EXECUTOR", settings.executor),
    ]
    if settings.executor == "ray":
        rows += [
            SettingRow("Ray cluster", "STUDIO_RAY_ADDRESS", settings.ray_address),
            SettingRow("resources per job kind", "STUDIO_RAY_RESOURCES", json.dumps(settings.ray_resources) or "{}"),
        ]
    return rows


@reads
def provisioned_models(actor: Actor) -> list[ProvisionedModel]:
    """The models converted or downloaded onto this machine, with their size on disk."""
    return resolver.list_provisioned()


@needs("models.provision")
def launch_provision(actor: Actor, spec: str) -> Job:
    """Starts the job that makes the model available on this machine."""
    return provision_job.launch_provision(actor.store, spec)


@dataclass(frozen=True)
class ModelFolder:
    """Where a model lies on this machine, and its size on disk."""

    path: Path
    size_bytes: int


@needs("models.provision")
def provision_model(actor: Actor, spec: str, *, progress: Callable[[float, str], None] | None = None) -> ModelFolder:
    """Makes the model available on this machine here, in this process (`progress`: fraction and message)."""
    folder = resolver.resolve_model(spec, progress=progress)
    return ModelFolder(folder, resolver.folder_size(folder))


@needs("embedding.run")
def launch_embedding(
    actor: Actor, project: Project, *, model: str | None = None, background: bool = True, engine: str | None = None
) -> Job:
    """Starts the job that embeds every sample of the project (with another encoder than its own, or another
    engine than the studio's, when given); queued only, for `run_here`, when not in the background."""
    params = ({"model": model} if model else {}) | ({"engine": engine} if engine else {})
    return embed_job.launch_embedding(actor.store, project.id, params, background=background)


@needs("project.edit")
def set_encoder(actor: Actor, project: Project, encoder: str) -> Project:
    return projects.set_encoder(actor.store, project.id, encoder)


@reads
def configured_servers(actor: Actor) -> list[ConfiguredServer]:
    """The LLM servers set up on the studio's server (their keys never leave it: only whether one is set)."""
    return key_places.configured_servers(actor.store)
