"""What a snapshot leaves out, and why: the samples of a project a run would not learn from, counted per language.

Every sample falls under one reason, the first that applies in this order, so that each count is what changing
that one thing would bring in (ticking "Also pending samples" adds exactly the pending count, before the limits):

test      the test split: kept apart to score the models, never trained on
label     no label, or a label the run does not use (unlabelled samples, labels removed from the project)
rejected  a person rejected it
language  a language the options leave out
origin    an origin (generated / human) the options leave out
pending   not reviewed yet, and pending samples are not asked for
limits    over the limits asked for (samples per language, at most per label x language, balanced labels)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from core.language_names import language_name
from core.store.database import Store
from core.store.projects import Project
from core.store.training_samples import sample_groups

if TYPE_CHECKING:
    from core.training.snapshot import SnapshotOptions

REASONS = ("pending", "rejected", "label", "origin", "language", "limits", "test")
ORIGIN_WORDS = {"synthetic": "generated", "human": "human"}


@dataclass(frozen=True)
class LeftOut:
    reason: str  # one of REASONS
    by_language: dict[str, int]  # language code -> samples, in the project's language order
    detail: str = ""  # the origins left out (reason "origin")

    @property
    def total(self) -> int:
        return sum(self.by_language.values())

    @property
    def counts(self) -> str:
        """'English 300, Swahili 301' (languages with none are not named)."""
        return ", ".join(f"{language_name(code)} {n:,}" for code, n in self.by_language.items() if n)

    def sentence(self) -> str:
        """The reason in plain words, with the count and what to do about it (plain text, no Markdown)."""
        n = self.total
        one = n == 1
        samples = f"{n:,} {'sample' if one else 'samples'}"
        is_are = "is" if one else "are"
        text = {
            "pending": f"{n:,} pending {'sample' if one else 'samples'} {is_are} not used: review "
            f'{"it" if one else "them"} on Curate, or tick "Also pending samples"',
            "rejected": f"{samples} rejected on Curate {is_are} not used",
            "label": f"{samples} without a label of this project {is_are} not used: give "
            f"{'it' if one else 'them'} one on Curate",
            "origin": f"{n:,} {self.detail} {'sample' if one else 'samples'} {is_are} not used: add "
            f'"{self.detail}" under "Samples from"',
            "language": f'{samples} in other languages {is_are} not used: add the language under "Languages"',
            "limits": f"{samples} {is_are} left out by the limits set (samples per language, at most per label × "
            "language, balanced labels)",
            "test": f"{samples} of the test split {is_are} kept apart to score the models, never trained on",
        }[self.reason]
        return f"{text} ({self.counts})."

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LeftOut:
        return cls(
            str(data["reason"]), {str(k): int(v) for k, v in data["by_language"].items()}, data.get("detail", "")
        )


def _reason(
    split: str, status: str, origin: str, language: str, labelled: bool, *, options: SnapshotOptions
) -> str | None:
    """The one reason a sample is left out (None: it is a candidate, see the module's docstring)."""
    if split != "train":
        return "test"
    if not labelled or status not in ("accepted", "pending", "rejected"):
        return "label"
    if status == "rejected":
        return "rejected"
    if options.languages and language not in options.languages:
        return "language"
    if origin not in options.origins:
        return "origin"
    if status == "pending" and not options.include_pending:
        return "pending"
    return None


def count_left_out(
    store: Store, project: Project, options: SnapshotOptions, selected: dict[str, int] | None = None
) -> list[LeftOut]:
    """The samples of `project` that a snapshot with these options leaves out, by reason and
    language (reasons with no sample are not listed). `selected`: the samples per language the snapshot takes,
    so that the candidates beyond it are counted as left out by the limits."""
    labels = list(options.labels) or project.label_names
    counts: dict[tuple[str, str], int] = {}  # (reason or origin detail, language) -> samples
    candidates: dict[str, int] = {}
    for group in sample_groups(store, project.id, labels):
        reason = _reason(group.split, group.status, group.origin, group.language, group.labelled, options=options)
        if reason is None:
            candidates[group.language] = candidates.get(group.language, 0) + group.samples
            continue
        key = (f"origin:{group.origin}" if reason == "origin" else reason, group.language)
        counts[key] = counts.get(key, 0) + group.samples
    if selected is not None:
        for language, n in candidates.items():
            beyond = n - selected.get(language, 0)
            if beyond > 0:
                counts[("limits", language)] = beyond
    order = project.language_codes
    languages = order + sorted({language for _, language in counts} - set(order))
    result = []
    kinds = [*REASONS[:3], *(f"origin:{o}" for o in ORIGIN_WORDS), *REASONS[4:]]
    for kind in kinds:
        by_language = {code: counts[(kind, code)] for code in languages if counts.get((kind, code))}
        if by_language:
            reason, _, origin = kind.partition(":")
            result.append(LeftOut(reason, by_language, ORIGIN_WORDS.get(origin, origin)))
    return result
