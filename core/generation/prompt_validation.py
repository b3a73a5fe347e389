"""Checking a prompt template before a run: syntax, what the sandbox refuses, unknown variables and filters (with
a suggestion), advice on variables it never uses, and a real render (also with a sparse first-round context)."""

from __future__ import annotations

import difflib
import re
from typing import Literal

from jinja2 import TemplateSyntaxError, meta, nodes

from core.errors import InvalidInput
from core.generation.prompt_render import (
    SANDBOX,
    VARIABLES,
    Part,
    PromptContext,
    PromptTemplateText,
    TemplateProblem,
    refused_constructs,
    render,
    sample_context,
)
from core.generation.template_sandbox import MAX_TEMPLATE_CHARS

Kind = Literal["generate", "revise"]


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
        tree = SANDBOX.parse(source)
    except TemplateSyntaxError as exc:
        return [TemplateProblem("error", f"Syntax error: {exc.message}", part, exc.lineno)], set()
    problems = refused_constructs(tree, part)
    try:
        used = meta.find_undeclared_variables(tree)
        SANDBOX.compile_guarded(source)
    except TemplateSyntaxError as exc:  # unknown filters and tests are found when compiling
        problems.append(TemplateProblem("error", _compile_message(exc.message or str(exc)), part, exc.lineno))
        return problems, set()
    return problems + _unknown_variables(tree, used, part), used


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
    known = SANDBOX.user_filters() if what == "filter" else sorted(SANDBOX.tests)
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
