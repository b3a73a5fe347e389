"""The `flag` job: run the duplicate filters over a project and replace their flags."""

from __future__ import annotations

from typing import Any

from core.curation.duplicate_flags import (
    DUPLICATE_KINDS,
    Findings,
    find_exact_and_conflicts,
    find_near_duplicates,
    find_test_contamination,
    load_items,
    replace_flags,
)
from core.curation.threshold_help import threshold_choice
from core.errors import InvalidInput, StudioError
from core.jobs.context import JobContext
from core.jobs.registry import job_kind
from core.store.projects import get_project


@job_kind("flag", heavy=True, title="Flagging samples")
def run_flag(ctx: JobContext) -> dict[str, Any]:
    from core.embeddings.service import embed

    if ctx.project_id is None:
        raise StudioError("The flag job needs a project.")
    project = get_project(ctx.store, ctx.project_id)
    remembered = threshold_choice(ctx.store, project.id, project.encoder)
    threshold = float(ctx.params.get("threshold") or remembered.threshold)
    scope = str(ctx.params.get("scope") or remembered.scope)
    if not 0 < threshold <= 1 or scope not in ("cell", "project"):
        raise InvalidInput("The threshold must be between 0 and 1, and the scope cell or project.")
    items = load_items(ctx.store, project.id)
    findings = Findings()
    find_exact_and_conflicts(items, scope, findings)
    if items:
        ctx.progress(0.05, f"Embedding {len(items):,} samples with {project.encoder}")
        vectors = embed(
            [i.text for i in items], project.encoder, progress=lambda f, m: ctx.progress(0.05 + 0.85 * f, m)
        )
        find_near_duplicates(items, vectors, threshold, scope, findings)
        find_test_contamination(items, vectors, threshold, findings)
    replace_flags(ctx.store, project.id, DUPLICATE_KINDS, findings)
    counts = {kind: findings.count(kind) for kind in DUPLICATE_KINDS}
    summary = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in counts.items())
    return {
        "samples": len(items),
        "threshold": threshold,
        "scope": scope,
        "flags": counts,
        "message": f"{len(items):,} samples checked: {summary}",
    }
