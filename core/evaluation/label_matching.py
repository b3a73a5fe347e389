"""Reading a label written by someone else (a predictions file's predicted label, a model's `id2label`) as one of
the project's labels: the same name, the same name in other capitals or spacing, or one of the label's names or
aliases in a language of the project. Never by guessing: a name that fits no label, or fits two, is left unmatched
and said so; the caller reports it (a file) or refuses until someone maps it (a model)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core.errors import InvalidInput
from core.evaluation.answer_mapping import normalize
from core.language_names import language_name
from core.store.projects import LabelSpec

SAME = "same name"
CAPITALS = "the same name written differently"
CHOSEN = "chosen"


@dataclass(frozen=True)
class LabelMatch:
    given: str
    label: str | None  # the project's label, None when no label (or more than one) fits
    how: str  # SAME, CAPITALS, "its name in Swahili", "an alias in German", CHOSEN; why not, when unmatched

    @property
    def ok(self) -> bool:
        return self.label is not None


@dataclass(frozen=True)
class _Way:
    label: str
    language: str | None  # None: the label's own name
    first: bool  # the label's name in that language (not an alias)

    @property
    def how(self) -> str:
        if self.language is None:
            return CAPITALS
        kind = "its name" if self.first else "an alias"
        return f"{kind} in {language_name(self.language)}"


class LabelMatcher:
    """Matches names against a project's labels (built once, used for every row of a file)."""

    def __init__(self, labels: Iterable[LabelSpec]) -> None:
        self.labels = [label.name for label in labels]
        self._exact = set(self.labels)
        self._ways: dict[str, list[_Way]] = {}
        for spec in labels:
            self._add(spec.name, _Way(spec.name, None, True))
            for code, names in spec.names.items():
                for position, name in enumerate(names):
                    self._add(name, _Way(spec.name, code, position == 0))
        self._cache: dict[tuple[str, str | None], LabelMatch] = {}

    def _add(self, name: str, way: _Way) -> None:
        key = normalize(name)
        if key:
            self._ways.setdefault(key, []).append(way)

    def match(self, given: str, language: str | None = None) -> LabelMatch:
        """`language`: the text's language, whose names are tried before the other languages' names."""
        cached = self._cache.get((given, language))
        if cached is None:
            cached = self._cache[(given, language)] = self._match(given, language)
        return cached

    def _match(self, given: str, language: str | None) -> LabelMatch:
        if given in self._exact:
            return LabelMatch(given, given, SAME)
        ways = self._ways.get(normalize(given), [])
        if not ways:
            return LabelMatch(given, None, "it is none of the project's labels, nor one of their names or aliases")
        own = [w for w in ways if w.language is None]
        if len({w.label for w in own}) == 1:
            return LabelMatch(given, own[0].label, own[0].how)
        for tier in ([w for w in ways if w.language == language], ways):
            found = {w.label for w in tier}
            if len(found) == 1:
                return LabelMatch(given, tier[0].label, tier[0].how)
            if len(found) > 1:
                return LabelMatch(given, None, "it names several labels: " + ", ".join(sorted(found)))
        return LabelMatch(given, None, "it is none of the project's labels")  # not reached: `ways` is not empty

    def project_label(self, name: str) -> str | None:
        """The project's label called `name` (in any capitals), for a mapping someone wrote."""
        if name in self._exact:
            return name
        lowered = {label.casefold(): label for label in self.labels}
        return lowered.get(" ".join(name.split()).casefold())


def parse_label_map(pairs: Iterable[str]) -> dict[str, str]:
    """`["LABEL_0=weather", ...]` (the CLI's --map) as {model label: project label}; a project label never holds
    '=', so the last '=' splits."""
    chosen: dict[str, str] = {}
    for pair in pairs:
        given, sep, label = pair.rpartition("=")
        if not sep or not given.strip() or not label.strip():
            raise InvalidInput(
                f"'{pair}' is not a label mapping: write it as model_label=project_label, e.g. --map LABEL_0=weather."
            )
        chosen[given.strip()] = label.strip()
    return chosen


def listed(names: Iterable[str], limit: int = 12) -> str:
    """'a', 'b' and 'c' (quoted, at most `limit` of them named)."""
    quoted = [f"'{n}'" for n in names]
    if len(quoted) > limit:
        quoted = [*quoted[:limit], f"{len(quoted) - limit} more"]
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]


def check_chosen(chosen: Mapping[str, str], known: list[str], matcher: LabelMatcher) -> dict[str, str]:
    """Someone's mapping {model label: project label}, each side checked and spelled as stored."""
    by_case = {name.casefold(): name for name in known}
    checked: dict[str, str] = {}
    for given, label in chosen.items():
        name = given if given in known else by_case.get(given.casefold())
        if name is None:
            raise InvalidInput(f"The model has no label '{given}': its labels are {listed(known, 30)}.")
        project_label = matcher.project_label(label)
        if project_label is None:
            raise InvalidInput(
                f"'{label}' is not one of the project's labels ({listed(matcher.labels, 30)}): map '{given}' to one "
                "of them, or add the label on the Projects page first."
            )
        checked[name] = project_label
    return checked
