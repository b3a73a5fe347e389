"""Prompt templates: the variables a template sees, and rendering in the sandbox.

A template has an optional `system` part and a `user` part, both Jinja2 rendered in `template_sandbox` (no code
execution, bounded work and size). Blocks (`{% if %}`, `{% for %}`) swallow their own line (trim_blocks and
lstrip_blocks), and the rendered text is tidied: trailing spaces removed, runs of blank lines collapsed to one,
leading and trailing blank lines dropped. The filter `oneline` puts a multi-line text on one line. What a template
may not do (hidden attributes, include/import/extends) is refused before anything runs.
Checking a template before a run is `prompt_validation`; the built-in strategies' templates are `builtin_templates`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, TypeGuard

from jinja2 import Template, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError

from core.errors import InvalidInput
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

Part = Literal["system", "user"]


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


SANDBOX = GuardedSandbox()


@lru_cache(maxsize=256)
def _compiled(source: str) -> tuple[Template | None, TemplateProblem | None]:
    """The compiled template, or the first construct that is refused before anything runs."""
    refused = refused_constructs(SANDBOX.parse(source), "user")
    if refused:
        return None, refused[0]
    return SANDBOX.compile_guarded(source), None


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


def referenced_variables(template: PromptTemplateText) -> set[str]:
    """The known variables a template uses (e.g. the engine fetches examples only when `examples` is used)."""
    used: set[str] = set()
    for _part, source in template.parts():
        if source.strip():
            try:
                used |= meta.find_undeclared_variables(SANDBOX.parse(source))
            except TemplateSyntaxError:
                continue
    return used & set(VARIABLES)


def refused_constructs(tree: nodes.Template, part: Part) -> list[TemplateProblem]:
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


def _underscore_const(node: nodes.Node) -> TypeGuard[nodes.Const]:
    return isinstance(node, nodes.Const) and isinstance(node.value, str) and node.value.startswith("_")


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
