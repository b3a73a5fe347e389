"""Prompt templates: the variables a template sees, rendering in the sandbox, validation, the built-in strategies.

A template has an optional `system` part and a `user` part, both Jinja2 rendered in `template_sandbox` (no code
execution, bounded work and size). Blocks (`{% if %}`, `{% for %}`) swallow their own line (trim_blocks and
lstrip_blocks), and the rendered text is tidied: trailing spaces removed, runs of blank lines collapsed to one,
leading and trailing blank lines dropped. The filter `oneline` puts a multi-line text on one line.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from jinja2 import Template, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError

from core.errors import InvalidInput
from core.generation.answer_parsing import REVISION_ACTIONS, RevisionVerdict, parse_revision
from core.generation.template_sandbox import (
    MAX_RENDER_CHARS,
    MAX_TEMPLATE_CHARS,
    GuardedSandbox,
    TemplateRefused,
    render_budget,
)
from core.language_names import LANGUAGES, language_name, normalize_code

if TYPE_CHECKING:
    from core.store.projects import ProjectSpec

__all__ = [
    "BUILTIN_TEMPLATES",
    "REVISION_ACTIONS",
    "BuiltinTemplate",
    "PromptContext",
    "PromptTemplateText",
    "RenderedPrompt",
    "RevisionVerdict",
    "TemplateProblem",
    "context_for_cell",
    "parse_revision",
    "referenced_variables",
    "render",
    "sample_context",
    "validate",
]

Part = Literal["system", "user"]
Kind = Literal["generate", "revise"]
NOT_ALLOWED = "This template tries to use something that is not allowed: "


@dataclass(frozen=True)
class PromptContext:
    """Everything a template may use, for one (label x language) cell.

    `language`, `language_native` and `label_name` are filled in from the code and the label when left empty.
    `samples` is for second-pass (revise) templates: the generated texts to check; `n` is then their number.
    """

    task: str
    label: str
    label_description: str = ""
    label_name: str = ""
    language: str = ""
    language_code: str = ""
    language_native: str = ""
    n: int = 10
    examples: list[str] = field(default_factory=list)
    taboo_words: list[str] = field(default_factory=list)
    earlier_outputs: list[str] = field(default_factory=list)
    other_labels: list[dict[str, str]] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)
    # targeted generation: the label this cell's texts are mistaken for, and TRAIN-split texts of that label
    confused_label: str = ""
    confused_label_name: str = ""
    confused_label_description: str = ""
    confused_examples: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.label_name:
            object.__setattr__(self, "label_name", self.label)
        if not self.confused_label_name and self.confused_label:
            object.__setattr__(self, "confused_label_name", self.confused_label)
        if not self.language and self.language_code:
            object.__setattr__(self, "language", language_name(self.language_code))
        if not self.language_native and self.language_code:
            known = LANGUAGES.get(normalize_code(self.language_code) or "")
            object.__setattr__(self, "language_native", known.native if known else "")

    def variables(self) -> dict[str, Any]:
        """Plain copies for the template (it cannot change the caller's lists)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in ("examples", "taboo_words", "earlier_outputs", "samples", "confused_examples"):
            values[name] = [str(v) for v in values[name]]
        values["other_labels"] = [
            {"name": str(o.get("name", "")), "description": str(o.get("description", ""))} for o in self.other_labels
        ]
        return values


VARIABLES: tuple[str, ...] = tuple(f.name for f in fields(PromptContext))
VARIABLE_HELP: dict[str, str] = {
    "task": "the project's task description",
    "label": "the label (its name in the project)",
    "label_description": "what the label means",
    "label_name": "the label's name in the target language (else the label)",
    "language": "the language's English name, e.g. Swahili",
    "language_code": "the language code, e.g. sw",
    "language_native": "the language's own name, e.g. Kiswahili (may be empty)",
    "n": "how many samples to write (revise: how many samples are listed)",
    "examples": "human train-split examples of this label in this language (list of texts; may be empty)",
    "taboo_words": "words earlier outputs of this cell overused (list; may be empty)",
    "earlier_outputs": "typical earlier outputs of this cell, to differ from (list; may be empty)",
    "other_labels": "the other labels, each with .name and .description",
    "samples": "revise only: the generated texts to check (list)",
    "confused_label": "targeted only: the label these texts are mistaken for (else empty)",
    "confused_label_name": "targeted only: that label's name in the target language",
    "confused_label_description": "targeted only: what that label means",
    "confused_examples": "targeted only: train-split texts of that label in this language (list; may be empty)",
}


@dataclass(frozen=True)
class PromptTemplateText:
    user: str
    system: str = ""

    def parts(self) -> list[tuple[Part, str]]:
        return [("system", self.system), ("user", self.user)]


@dataclass(frozen=True)
class RenderedPrompt:
    system: str
    user: str
    messages: list[dict[str, str]]


@dataclass(frozen=True)
class TemplateProblem:
    severity: Literal["error", "warning"]
    message: str
    part: Part | None = None
    line: int | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    @property
    def where(self) -> str:
        if self.part is None:
            return ""
        name = "System prompt" if self.part == "system" else "User prompt"
        return f"{name}, line {self.line}" if self.line else name

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


# --- rendering ---------------------------------------------------------------------------------------------------

_ENV = GuardedSandbox()


@lru_cache(maxsize=256)
def _compiled(source: str) -> tuple[Template | None, TemplateProblem | None]:
    """The compiled template, or the first construct that is refused before anything runs."""
    refused = _forbidden(_ENV.parse(source), "user")
    if refused:
        return None, refused[0]
    return _ENV.compile_guarded(source), None


def render(template: PromptTemplateText, context: PromptContext) -> RenderedPrompt:
    """Fill the template in for one cell. Every problem raises InvalidInput with a message for the user."""
    with render_budget():
        system = _render_part(template.system, context, "system") if template.system.strip() else ""
        user = _render_part(template.user, context, "user")
    if not user:
        raise InvalidInput(
            f"The user prompt comes out empty for {context.label} in {context.language or context.language_code}."
        )
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
    return RenderedPrompt(system=system, user=user, messages=messages)


def _render_part(source: str, context: PromptContext, part: Part) -> str:
    where = "system prompt" if part == "system" else "user prompt"
    if len(source) > MAX_TEMPLATE_CHARS:
        raise InvalidInput(f"The {where} is {len(source):,} characters long; the limit is {MAX_TEMPLATE_CHARS:,}.")
    try:
        compiled, refused = _compiled(source)
        if refused is not None or compiled is None:
            line = f" (line {refused.line} of the {where})" if refused and refused.line else ""
            raise InvalidInput((refused.message if refused else NOT_ALLOWED.rstrip(": ")) + line)
        chunks: list[str] = []
        total = 0
        for chunk in compiled.generate(context.variables()):
            total += len(chunk)
            if total > MAX_RENDER_CHARS:
                raise TemplateRefused(f"a {where} longer than {MAX_RENDER_CHARS:,} characters")
            chunks.append(chunk)
    except InvalidInput:
        raise
    except SecurityError as exc:
        raise InvalidInput(NOT_ALLOWED + _first_line(exc) + _at_line(exc, where)) from None
    except TemplateSyntaxError as exc:
        raise InvalidInput(f"The {where} has a syntax error on line {exc.lineno}: {exc.message}") from None
    except UndefinedError as exc:
        raise InvalidInput(f"The {where} could not be filled in{_at_line(exc, where)}: {_undefined(exc)}") from None
    except OverflowError as exc:
        raise InvalidInput(NOT_ALLOWED + f"a number that is too large{_at_line(exc, where)}") from None
    except RecursionError:
        raise InvalidInput(NOT_ALLOWED + f"a macro or loop that calls itself too deeply (in the {where})") from None
    except Exception as exc:  # anything else a template can provoke: TypeError, ZeroDivisionError, ...
        raise InvalidInput(
            f"The {where} could not be filled in{_at_line(exc, where)}: {_first_line(exc) or type(exc).__name__}"
        ) from None
    return _tidy("".join(chunks))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def _at_line(exc: BaseException, where: str) -> str:
    """' (line 3 of the user prompt)' from the template frames Jinja puts into tracebacks."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return f" (line {line} of the {where})" if line else ""


def _undefined(exc: UndefinedError) -> str:
    message = _first_line(exc)
    match = re.fullmatch(r"'([^']+)' is undefined", message)
    if match:
        return f"'{match.group(1)}' is not a known variable"
    return message


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# --- validation --------------------------------------------------------------------------------------------------


def referenced_variables(template: PromptTemplateText) -> set[str]:
    """The known variables a template uses (e.g. the engine fetches examples only when `examples` is used)."""
    used: set[str] = set()
    for _part, source in template.parts():
        if source.strip():
            try:
                used |= meta.find_undeclared_variables(_ENV.parse(source))
            except TemplateSyntaxError:
                continue
    return used & set(VARIABLES)


def validate(
    template: PromptTemplateText, *, kind: Kind = "generate", context: PromptContext | None = None
) -> list[TemplateProblem]:
    """Everything wrong with a template before a run: errors block it, warnings are advice.

    It is rendered with `context` (a real cell, when the page has one) or a built-in sample, and with a sparse
    context (no examples, taboo words or earlier outputs) to catch templates that fail on a cell's first round.
    """
    problems: list[TemplateProblem] = []
    if not template.user.strip():
        problems.append(TemplateProblem("error", "The user prompt is empty: write what the model should do.", "user"))
    used: set[str] = set()
    for part, source in template.parts():
        if not source.strip():
            continue
        checked = _check_source(source, part)
        problems += checked[0]
        used |= checked[1]
    if any(p.is_error for p in problems):
        return problems
    problems += _usage_warnings(used, kind)
    problems += _render_checks(template, context)
    return problems


def _check_source(source: str, part: Part) -> tuple[list[TemplateProblem], set[str]]:
    if len(source) > MAX_TEMPLATE_CHARS:
        message = f"This part is {len(source):,} characters long; the limit is {MAX_TEMPLATE_CHARS:,}."
        return [TemplateProblem("error", message, part)], set()
    try:
        tree = _ENV.parse(source)
    except TemplateSyntaxError as exc:
        return [TemplateProblem("error", f"Syntax error: {exc.message}", part, exc.lineno)], set()
    problems = _forbidden(tree, part)
    try:
        used = meta.find_undeclared_variables(tree)
        _ENV.compile_guarded(source)
    except TemplateSyntaxError as exc:  # unknown filters and tests are found when compiling
        problems.append(TemplateProblem("error", _compile_message(exc.message or str(exc)), part, exc.lineno))
        return problems, set()
    return problems + _unknown_variables(tree, used, part), used


def _forbidden(tree: nodes.Template, part: Part) -> list[TemplateProblem]:
    problems: list[TemplateProblem] = []

    def refuse(what: str, node: nodes.Node) -> None:
        problems.append(TemplateProblem("error", NOT_ALLOWED + what, part, node.lineno))

    for node in tree.find_all(
        (
            nodes.Getattr,
            nodes.Getitem,
            nodes.Include,
            nodes.Import,
            nodes.FromImport,
            nodes.Extends,
            nodes.Filter,
            nodes.Test,
        )
    ):
        if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            refuse(f"the hidden attribute '{node.attr}' (names starting with '_' are off limits)", node)
        elif isinstance(node, nodes.Getitem) and _underscore_const(node.arg):
            refuse(f"the hidden attribute '{node.arg.value}' (names starting with '_' are off limits)", node)
        elif isinstance(node, nodes.Include | nodes.Import | nodes.FromImport | nodes.Extends):
            refuse("include, import or extends (a prompt template cannot load other templates)", node)
        elif isinstance(node, nodes.Filter | nodes.Test):
            values = [*node.args, *(kw.value for kw in node.kwargs)]
            hidden = next((v.value for v in values if _underscore_const(v)), None)
            if hidden is not None:
                refuse(f"the hidden attribute '{hidden}' (names starting with '_' are off limits)", node)
    return problems


def _underscore_const(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Const) and isinstance(node.value, str) and node.value.startswith("_")


def _unknown_variables(tree: nodes.Template, used: set[str], part: Part) -> list[TemplateProblem]:
    unknown = sorted(used - set(VARIABLES))
    problems = []
    for name in unknown:
        line = next((n.lineno for n in tree.find_all(nodes.Name) if n.name == name), None)
        problems.append(TemplateProblem("error", _unknown_message("variable", name, VARIABLES), part, line))
    return problems


def _unknown_message(what: str, name: str, known: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f"Unknown {what} '{name}' — did you mean '{close[0]}'?"
    if what == "variable":
        return f"Unknown variable '{name}'. The variables are: {', '.join(known)}."
    return f"Unknown {what} '{name}'."


def _compile_message(message: str) -> str:
    match = re.match(r"No (filter|test) named '([^']+)'", message)
    if not match:
        return f"Syntax error: {message}"
    what, name = match.groups()
    known = _ENV.user_filters() if what == "filter" else sorted(_ENV.tests)
    return _unknown_message(what, name, known)


def _usage_warnings(used: set[str], kind: Kind) -> list[TemplateProblem]:
    warnings: list[TemplateProblem] = []
    if kind == "revise":
        if "samples" not in used:
            warnings.append(
                TemplateProblem(
                    "warning",
                    "The template never lists {{ samples }}: the model will not see the texts it should check.",
                )
            )
    elif "n" not in used:
        warnings.append(
            TemplateProblem(
                "warning", "The template never uses {{ n }}: the model is not told how many samples to write."
            )
        )
    if not used & {"label", "label_name"}:
        warnings.append(
            TemplateProblem(
                "warning",
                "The template never uses {{ label }} or {{ label_name }}: every label would get the same prompt.",
            )
        )
    if not used & {"language", "language_code", "language_native"}:
        warnings.append(
            TemplateProblem(
                "warning",
                "The template never names the language ({{ language }}): every language would get the same prompt.",
            )
        )
    return warnings


def _render_checks(template: PromptTemplateText, context: PromptContext | None) -> list[TemplateProblem]:
    try:
        if not render(template, context or sample_context()).user:
            raise InvalidInput("The user prompt comes out empty.")
    except InvalidInput as exc:
        return [TemplateProblem("error", str(exc))]
    try:
        render(template, _sparse(context or sample_context()))
    except InvalidInput as exc:
        return [
            TemplateProblem(
                "warning",
                "With no examples, taboo words or earlier outputs (a first round, or a "
                f"language without human train samples) the template fails: {exc}",
            )
        ]
    return []


def _sparse(context: PromptContext) -> PromptContext:
    return PromptContext(
        task=context.task,
        label=context.label,
        label_description="",
        label_name=context.label_name,
        language=context.language,
        language_code=context.language_code,
        language_native="",
        n=context.n,
        other_labels=[],
        samples=context.samples,
    )


def sample_context(*, n: int = 5) -> PromptContext:
    """A realistic cell for previews and validation when no project data is at hand."""
    return PromptContext(
        task="Sort SMS questions from smallholder farmers in East Africa by topic.",
        label="weather",
        label_description="Questions about rain, drought, temperature or the weather forecast.",
        label_name="hali ya hewa",
        language_code="sw",
        n=n,
        examples=["Mvua itanyesha lini huku Nakuru?", "Je, kutakuwa na ukame mwezi ujao?"],
        taboo_words=["mvua", "kesho", "leo"],
        earlier_outputs=["Mvua itanyesha kesho?", "Je, leo kutakuwa na jua kali?"],
        other_labels=[
            {"name": "prices", "description": "Questions about market prices of crops or inputs."},
            {"name": "plant disease", "description": "Questions about sick plants, pests and their treatment."},
        ],
        samples=["Mvua itanyesha lini?", "Bei ya mahindi ni ngapi?", "Will it rain tomorrow?"],
    )


def context_for_cell(
    project: ProjectSpec,
    label: str,
    language_code: str,
    n: int,
    *,
    examples: list[str] | None = None,
    taboo_words: list[str] | None = None,
    earlier_outputs: list[str] | None = None,
    samples: list[str] | None = None,
) -> PromptContext:
    """The context of one cell from a project's words (pure: examples and hints are chosen by the caller)."""
    spec = next((lab for lab in project.labels if lab.name == label), None)
    lang = next((lang for lang in project.languages if lang.code == language_code), None)
    known = LANGUAGES.get(normalize_code(language_code) or "")
    return PromptContext(
        task=project.task,
        label=label,
        label_description=spec.description if spec else "",
        label_name=spec.name_in(language_code) if spec else label,
        language=lang.name if lang else language_name(language_code),
        language_code=language_code,
        language_native=known.native if known else "",
        n=n,
        examples=list(examples or []),
        taboo_words=list(taboo_words or []),
        earlier_outputs=list(earlier_outputs or []),
        other_labels=[{"name": o.name, "description": o.description} for o in project.labels if o.name != label],
        samples=list(samples or []),
    )


# --- the built-in strategies -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuiltinTemplate:
    key: str
    title: str
    explanation: str  # one line for the UI
    kind: Kind
    template: PromptTemplateText


_SYSTEM = (
    "You write realistic texts that people send or say, to train a text classifier. You write like a native "
    "speaker of the requested language, follow the instructions exactly, and answer with a JSON array of strings "
    "and nothing else."
)

_HEADER = """\
Task of the classifier: {{ task }}

Write {{ n }} different texts in {{ language }}\
{% if language_native and language_native != language %} ({{ language_native }}){% endif %}, \
language code "{{ language_code }}", that belong to the label "{{ label_name }}"\
{% if label_name != label %} (in English: "{{ label }}"){% endif %}.

{% if label_description %}
What this label means: {{ label_description }}
{% endif %}
{% if other_labels %}

The other labels, for contrast (your texts must NOT fit any of these):
{% for other in other_labels %}
{% if other.description %}
- {{ other.name }}: {{ other.description }}
{% else %}
- {{ other.name }}
{% endif %}
{% endfor %}
{% endif %}
"""

_RULES = """
Rules:
- Write in {{ language }} only, as native speakers really write it\
{% if language != "English" %} (not a translation from English){% endif %}. \
Names of places, brands or a loanword are fine where they are natural.
- Vary the length (from a few words to two or three sentences), the register (casual to formal), \
the tone and the situation: different people, places and reasons for writing.
- Each text must stand on its own. Do not number the texts and do not add titles, labels, quotes or explanations.
- Do not use {% if label_name != label %}the words "{{ label_name }}" or "{{ label }}"\
{% else %}the word "{{ label }}"{% endif %} unless a real person would; the topic should show through the content.
"""

_ANSWER = """
Answer with a JSON array of exactly {{ n }} strings and nothing else, like this: ["first text", "second text"]
"""

_DEMOS = """
{% if examples %}

Here are real {{ language }} texts with this label, written by people. Match their style, spelling habits and \
topics, but do not copy or paraphrase them:
{% for example in examples %}
- {{ example | oneline }}
{% endfor %}
{% endif %}
"""

_DIVERSE = """
{% if taboo_words %}

Do not use these words; earlier texts for this label used them too often: {{ taboo_words | join(", ") }}.
{% endif %}
{% if earlier_outputs %}

Earlier texts for this label looked like the ones below. Write something different from these: other situations, \
other people, other wording, other lengths.
{% for text in earlier_outputs %}
- {{ text | oneline }}
{% endfor %}
{% endif %}
"""

_TARGETED = """
{% if confused_label %}

A classifier trained on earlier texts mistakes {{ language }} texts of "{{ label_name }}" for \
"{{ confused_label_name }}"\
{% if confused_label_name != confused_label %} (in English: "{{ confused_label }}"){% endif %}\
{% if confused_label_description %}, which means: {{ confused_label_description }}{% endif %}. \
Write texts that clearly belong to "{{ label_name }}" and clearly not to "{{ confused_label_name }}": cover the \
situations where the two could be mixed up, and let the content make the difference plain.
{% if confused_examples %}

These training texts are "{{ confused_label_name }}". Do not write texts like them:
{% for text in confused_examples %}
- {{ text | oneline }}
{% endfor %}
{% endif %}
{% endif %}
"""

_REVISE_SYSTEM = (
    "You are a careful annotator and native speaker of {{ language }}. You check training data for a text "
    "classifier and answer exactly in the requested format."
)

_REVISE_USER = """\
Task of the classifier: {{ task }}

Below are {{ samples | length }} texts that were written to be {{ language }} (language code "{{ language_code }}") \
examples of the label "{{ label_name }}"{% if label_name != label %} (in English: "{{ label }}"){% endif %}.

{% if label_description %}
What this label means: {{ label_description }}
{% endif %}
{% if other_labels %}

The other labels:
{% for other in other_labels %}
{% if other.description %}
- {{ other.name }}: {{ other.description }}
{% else %}
- {{ other.name }}
{% endif %}
{% endfor %}
{% endif %}

Check every text:
1. Is it written in {{ language }} (a name or a common loanword is fine)?
2. Does it clearly belong to the label "{{ label_name }}" and to none of the other labels?
3. Is it natural and fluent, a text a real person could write, with no numbering, title or explanation?

Answer with exactly one line per text, in the same order, each in one of these three forms:
<number>. KEEP
<number>. FIX: <the corrected text, in {{ language }}, on one line>
<number>. DROP: <a short reason, in English>

Use KEEP when the text is good as it is. Use FIX for problems of spelling, grammar or naturalness that can be \
corrected without changing what the text is about. Use DROP when the text is in another language, belongs to \
another label, or cannot be saved. Write nothing else.

Texts:
{% for text in samples %}
{{ loop.index }}. {{ text | oneline }}
{% endfor %}
"""

BUILTIN_TEMPLATES: dict[str, BuiltinTemplate] = {
    "zero-shot": BuiltinTemplate(
        "zero-shot",
        "Zero-shot",
        "Only the task, the label and its description: the model writes from its own knowledge of the language.",
        "generate",
        PromptTemplateText(system=_SYSTEM, user=_HEADER + _RULES + _ANSWER),
    ),
    "demos": BuiltinTemplate(
        "demos",
        "With human examples",
        "Adds a few real texts of this label in the target language (train split only) to copy the style from.",
        "generate",
        PromptTemplateText(system=_SYSTEM, user=_HEADER + _DEMOS + _RULES + _ANSWER),
    ),
    "diverse": BuiltinTemplate(
        "diverse",
        "Diversity incentives",
        "Runs in rounds: bans the words earlier rounds overused and shows typical earlier texts to write away from.",
        "generate",
        PromptTemplateText(system=_SYSTEM, user=_HEADER + _DIVERSE + _RULES + _ANSWER),
    ),
    "revise": BuiltinTemplate(
        "revise",
        "Revise (second pass)",
        "A second pass: the model checks each generated text's language and label, and keeps, fixes or drops it.",
        "revise",
        PromptTemplateText(system=_REVISE_SYSTEM, user=_REVISE_USER),
    ),
    "targeted": BuiltinTemplate(
        "targeted",
        "Targeted (a weak cell)",
        "For a confusion-matrix cell: texts of the label that are clearly not the label they are mistaken for.",
        "generate",
        PromptTemplateText(system=_SYSTEM, user=_HEADER + _TARGETED + _DEMOS + _RULES + _ANSWER),
    ),
}
