"""What a prompt is rendered with for one (language, label) cell: the project's words, examples, diversity hints.

Examples come ONLY from the TRAIN split (human samples; targeted generation also shows accepted synthetic samples of
the label a cell is mistaken for): the test split is for evaluation and nothing else.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from core.generation.example_selection import ExampleCandidate, select_examples
from core.generation.prompt_render import PromptContext
from core.language_names import LANGUAGES, language_name
from core.store.database import Store
from core.store.projects import Project
from core.store.sample_texts import accepted_train_samples

if TYPE_CHECKING:
    from core.generation.engine import GenerationSettings

TABOO_WORDS = 12
HINTS = 3


def example_candidates(store: Store, project_id: int, language: str, label: str) -> list[ExampleCandidate]:
    rows = accepted_train_samples(store, project_id, language, label, origin="human")
    return [ExampleCandidate(sample_id=r.id, text=r.text, split=r.split, origin=r.origin) for r in rows]


def confused_examples(store: Store, project_id: int, language: str, label: str, k: int, seed: int) -> list[str]:
    """Targeted generation: up to k accepted TRAIN-split texts of the label a cell is mistaken for (human ones
    first, then synthetic; seeded). Never test samples."""
    rows = accepted_train_samples(store, project_id, language, label)
    rng = random.Random(seed)
    chosen: list[str] = []
    for origin in ("human", "synthetic"):
        texts = list(dict.fromkeys(r.text for r in rows if r.origin == origin))
        chosen += rng.sample(texts, min(max(0, k - len(chosen)), len(texts)))
    return chosen


def encoder_tokenize(encoder: str) -> Callable[[str], list[str]]:
    from core.curation.subword_tokens import load_tokenizer

    tokenize: Callable[[str], list[str]] = load_tokenizer(encoder).tokenize
    return tokenize


def build_context(
    store: Store,
    project: Project,
    cell: tuple[str, str],
    n: int,
    settings: GenerationSettings,
    seed: int,
    earlier: list[str],
    uses: set[str],
    background: list[str] | None = None,
) -> PromptContext:
    """`uses`: the variables the template refers to; only those are fetched (examples, taboo words, hints)."""
    language, label = cell
    spec = project.label(label)
    examples: list[str] = []
    if "examples" in uses and settings.examples_k > 0:
        candidates = example_candidates(store, project.id, language, label)
        vectors = None
        if settings.examples_method == "diverse" and candidates:
            from core.embeddings.service import embed

            vectors = embed([c.text for c in candidates], project.encoder)
        chosen = select_examples(candidates, settings.examples_k, settings.examples_method, seed, vectors)
        examples = [c.text for c in chosen]
    taboo: list[str] = []
    hints: list[str] = []
    if earlier and "taboo_words" in uses:
        from core.generation.diversity import taboo_words

        taboo = taboo_words(earlier, encoder_tokenize(project.encoder), k=TABOO_WORDS, background=background)
    if earlier and "earlier_outputs" in uses:
        from core.embeddings.service import embed
        from core.generation.diversity import typical_outputs

        hints = typical_outputs(earlier, embed(earlier, project.encoder), k=HINTS)
    confused = getattr(settings, "confused_label", None) or ""
    confused_spec = project.label(confused) if confused else None
    confused_texts: list[str] = []
    if confused and "confused_examples" in uses and settings.examples_k > 0:
        confused_texts = confused_examples(store, project.id, language, confused, settings.examples_k, seed)
    known = LANGUAGES.get(language)
    return PromptContext(
        task=project.task,
        label=label,
        label_description=spec.description if spec else "",
        label_name=spec.name_in(language) if spec else label,
        language=next((lang.name for lang in project.languages if lang.code == language), language_name(language)),
        language_code=language,
        language_native=known.native if known else "",
        n=n,
        examples=examples,
        taboo_words=taboo,
        earlier_outputs=hints,
        other_labels=[{"name": o.name, "description": o.description} for o in project.labels if o.name != label],
        confused_label=confused,
        confused_label_name=confused_spec.name_in(language) if confused_spec else confused,
        confused_label_description=confused_spec.description if confused_spec else "",
        confused_examples=confused_texts,
    )
