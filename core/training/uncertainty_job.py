"""The `rank_uncertain` job (active learning): a trained model labels the project's unlabeled human TRAIN texts and
flags each one `model_uncertain`, with how torn it is, so that the review queue can put the texts whose human label
teaches the model most first. Near-repeats of a text ranked before come after every distinct one."""

from __future__ import annotations

from typing import Any

from core.embeddings.service import embed
from core.errors import InvalidInput, StudioError
from core.jobs.context import JobContext
from core.jobs.lifecycle import launch
from core.jobs.queue import Job
from core.jobs.registry import job_kind
from core.store.database import Store
from core.store.flags import NewFlag, replace_flags
from core.store.projects import get_project
from core.store.sample_texts import SampleItem, not_rejected_items
from core.training.predict import open_model, predict_texts
from core.training.run_store import get_run
from core.training.uncertainty import most_uncertain

UNCERTAIN_KIND = "model_uncertain"
NEAR_REPEAT = " (a near-repeat of a text above)"  # migration 0017 knows a near-repeat's flag by it


def queue_score(margin: float, *, near_repeat: bool) -> float:
    """The flag's score, what the queue "least sure first" orders by (the higher, the sooner): how unsure the model
    is, 1 - the margin between its two best labels (0 to 1); a near-repeat's is 2 lower (-2 to -1), so that it
    comes after every distinct text, as in the job's ranking."""
    return 1.0 - margin - (2.0 if near_repeat else 0.0)


def unlabeled_human_train(store: Store, project_id: int, languages: tuple[str, ...] = ()) -> list[SampleItem]:
    return [
        item
        for item in not_rejected_items(store, project_id)
        if item.origin == "human"
        and item.split == "train"
        and not item.label
        and (not languages or item.language in languages)
    ]


def launch_uncertainty_ranking(
    store: Store, project_id: int, run_name: str, *, languages: tuple[str, ...] = (), background: bool = True
) -> Job:
    """Queue the ranking with the model of a finished run."""
    run = get_run(store, project_id, run_name)
    if run.status != "done":
        raise InvalidInput(f"The run '{run.name}' has not finished: rank with a finished run's model.")
    if not unlabeled_human_train(store, project_id, languages):
        raise InvalidInput("There is no unlabeled human training text to rank: import people's texts without labels.")
    params = {"run": run_name, "languages": list(languages)}
    return launch(store, "rank_uncertain", params, project_id=project_id, heavy=True, background=background)


@job_kind("rank_uncertain", heavy=True, title="Ranking texts by the model's doubt")
def run_ranking(ctx: JobContext) -> dict[str, Any]:
    if ctx.project_id is None:
        raise StudioError("The ranking job needs a project.")
    project = get_project(ctx.store, ctx.project_id)
    languages = tuple(ctx.params.get("languages") or ())
    items = unlabeled_human_train(ctx.store, project.id, languages)
    model = open_model(ctx.store, project.id, str(ctx.params["run"]))
    texts = [item.text for item in items]
    ctx.progress(0.0, f"Labelling {len(texts):,} unlabeled texts with run '{model.run.name}'")
    predictions = predict_texts(
        model, texts, lambda f, m: ctx.progress(0.7 * f, m), languages=[item.language for item in items]
    )
    ctx.check_cancel()
    ctx.progress(0.7, "Looking for near-repeats among the most doubtful texts")
    vectors = embed(texts, project.encoder, progress=lambda f, m: ctx.progress(0.7 + 0.25 * f, m))
    flags: list[NewFlag] = []
    by_language: dict[str, int] = {}
    for code in sorted({item.language for item in items}):
        rows = [p for p, item in enumerate(items) if item.language == code]
        proba = predictions.probabilities[rows]
        distinct = most_uncertain(proba, predictions.classes, len(rows), vectors=vectors[rows])
        rest = most_uncertain(proba, predictions.classes, len(rows))
        seen = {u.position for u in distinct}
        ranked = distinct + [u for u in rest if u.position not in seen]
        for rank, doubt in enumerate(ranked):
            flags.append(
                NewFlag(
                    items[rows[doubt.position]].id,
                    UNCERTAIN_KIND,
                    doubt.reason() if doubt.position in seen else doubt.reason() + NEAR_REPEAT,
                    {
                        "score": round(doubt.score, 6),
                        "rank": rank,
                        "run": model.run.name,
                        "top": doubt.top,
                        "second": doubt.second,
                    },
                    queue_score(doubt.score, near_repeat=doubt.position not in seen),
                )
            )
        by_language[code] = len(rows)
    replace_flags(ctx.store, project.id, (UNCERTAIN_KIND,), flags, languages=languages)  # others' stay
    return {
        "run": model.run.name,
        "ranked": len(flags),
        "languages": by_language,
        "message": f"{len(flags):,} unlabeled texts ranked by the doubt of run '{model.run.name}'",
    }
