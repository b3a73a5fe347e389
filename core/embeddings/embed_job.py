"""The `embed` job: embed every sample text of a project with its encoder, filling the cache."""

from __future__ import annotations

from typing import Any

from core.embeddings.service import choose_engine, embed
from core.errors import StudioError
from core.jobs.context import JobContext
from core.jobs.lifecycle import launch
from core.jobs.queue import Job
from core.jobs.registry import job_kind
from core.store.database import Store
from core.store.projects import get_project
from core.store.sample_texts import distinct_texts


def launch_embedding(store: Store, project_id: int, params: dict[str, Any], *, background: bool = True) -> Job:
    """Launch the `embed` job over the project's texts (`params`: model, role, engine; heavy: it loads an
    encoder)."""
    return launch(store, "embed", params, project_id=project_id, heavy=True, background=background)


@job_kind("embed", heavy=True, title="Embedding samples")
def run_embed(ctx: JobContext) -> dict[str, Any]:
    if ctx.project_id is None:
        raise StudioError("The embedding job needs a project.")
    project = get_project(ctx.store, ctx.project_id)
    model = str(ctx.params.get("model") or project.encoder)
    role = str(ctx.params.get("role", "query"))
    texts = distinct_texts(ctx.store, project.id)
    engine = choose_engine(model, str(ctx.params.get("engine") or "auto"))
    ctx.log(f"embedding {len(texts)} distinct texts with {model} ({role}, engine {engine})")
    vectors = embed(texts, model, role, progress=ctx.progress, engine=engine)
    return {
        "texts": len(texts),
        "dimensions": int(vectors.shape[1]) if len(texts) else 0,
        "model": model,
        "message": f"{len(texts):,} texts embedded with {model}",
    }
