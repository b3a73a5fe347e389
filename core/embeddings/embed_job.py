"""The `embed` job: embed every sample text of a project with its encoder, filling the cache."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core.embeddings.service import embed
from core.errors import StudioError
from core.jobs.context import JobContext
from core.jobs.registry import job_kind
from core.store.projects import get_project
from core.store.schema import SampleRow


def project_texts(ctx: JobContext, project_id: int) -> list[str]:
    with ctx.store.session() as session:
        query = select(SampleRow.text).where(SampleRow.project_id == project_id).distinct().order_by(SampleRow.text)
        return list(session.scalars(query))


@job_kind("embed", heavy=True, title="Embedding samples")
def run_embed(ctx: JobContext) -> dict[str, Any]:
    if ctx.project_id is None:
        raise StudioError("The embedding job needs a project.")
    project = get_project(ctx.store, ctx.project_id)
    model = str(ctx.params.get("model") or project.encoder)
    role = str(ctx.params.get("role", "query"))
    texts = project_texts(ctx, project.id)
    ctx.log(f"embedding {len(texts)} distinct texts with {model} ({role})")
    vectors = embed(texts, model, role, progress=ctx.progress)
    return {
        "texts": len(texts),
        "dimensions": int(vectors.shape[1]) if len(texts) else 0,
        "model": model,
        "message": f"{len(texts):,} texts embedded with {model}",
    }
