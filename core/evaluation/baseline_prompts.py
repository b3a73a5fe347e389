"""The prompts of the LLM-as-classifier baselines: the task, the labels, k examples per label, one text to label.

In-context examples come ONLY from the TRAIN split (accepted samples of the same language; human ones for
`human-icl`, synthetic ones for `synthetic-icl`; none flagged as close to a test sample). `choose_examples`
refuses any other candidate outright, so a wrong query fails loudly instead of leaking test text into prompts.
"""

from __future__ import annotations

import random

from core.errors import InvalidInput
from core.language_names import language_name
from core.store.database import Store
from core.store.projects import Project
from core.store.training_samples import Example, example_candidates

MODES = ("zero-shot", "synthetic-icl", "human-icl")
MODE_HELP = {
    "zero-shot": "the LLM labels each test text from the task and the label descriptions alone",
    "synthetic-icl": "the LLM sees k accepted synthetic train samples per label first",
    "human-icl": "the LLM sees k human train samples per label first",
}
CONTAMINATION_FLAG = "test_contamination"

SYSTEM = (
    "You are a careful text classifier. You read one text and answer with exactly one label from the list you are "
    "given, written exactly as in the list, and nothing else."
)


def candidate_examples(store: Store, project: Project, language: str, origin: str) -> list[Example]:
    """Accepted TRAIN samples of this language and origin with a project label, not flagged as close to a test text."""
    return example_candidates(store, project.id, language, origin, project.label_names, CONTAMINATION_FLAG)


def choose_examples(candidates: list[Example], labels: list[str], k: int, seed: int) -> list[Example]:
    """Up to k examples per label (seeded; repeated texts count once), shuffled so labels are not in blocks."""
    for candidate in candidates:
        if candidate.split != "train":
            raise InvalidInput(
                f"Sample {candidate.sample_id} is in the {candidate.split} split: examples shown to the LLM may only "
                "come from the train split (the test split is kept for evaluation)."
            )
    rng = random.Random(seed)
    chosen: list[Example] = []
    for label in labels:
        seen: set[str] = set()
        pool = []
        for candidate in candidates:
            key = " ".join(candidate.text.casefold().split())
            if candidate.label == label and key and key not in seen:
                seen.add(key)
                pool.append(candidate)
        chosen += rng.sample(pool, min(k, len(pool)))
    rng.shuffle(chosen)
    return chosen


def examples_for(store: Store, project: Project, language: str, mode: str, k: int, seed: int) -> list[Example]:
    if mode not in MODES:
        raise InvalidInput(f"Unknown baseline mode '{mode}': use {', '.join(MODES)}.")
    if mode == "zero-shot" or k <= 0:
        return []
    origin = "human" if mode == "human-icl" else "synthetic"
    return choose_examples(candidate_examples(store, project, language, origin), project.label_names, k, seed)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def classification_messages(project: Project, language: str, text: str, examples: list[Example]) -> list[dict]:
    """The chat messages asking for the label of one text."""
    lines = []
    if project.task.strip():
        lines += [f"Task: {project.task.strip()}", ""]
    lines.append("The labels:")
    for label in project.labels:
        lines.append(f"- {label.name}: {label.description.strip()}" if label.description.strip() else f"- {label.name}")
    if examples:
        lines += ["", "Examples of labelled texts:"]
        for example in examples:
            lines += [f"Text: {_one_line(example.text)}", f"Label: {example.label}", ""]
        lines.pop()
    name = next((lang.name for lang in project.languages if lang.code == language), language_name(language))
    lines += [
        "",
        f"Which label fits this {name} text? Answer with one label from the list, exactly as written, and nothing "
        "else.",
        "",
        f"Text: {_one_line(text)}",
        "Label:",
    ]
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n".join(lines)}]
