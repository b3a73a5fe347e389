"""The built-in strategies' prompt templates: `.jinja` files in `templates/` beside this module, one per strategy
and part (`zero-shot.system.jinja`, `zero-shot.user.jinja`, ...), each the template exactly as a person sees and
edits it on the Prompts page (files end with one newline more, as editors write them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.generation.prompt_render import PromptTemplateText
from core.generation.prompt_validation import Kind

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class BuiltinTemplate:
    key: str
    title: str
    explanation: str  # one line for the UI
    kind: Kind
    template: PromptTemplateText


def template_file(key: str, part: str) -> str:
    text = (TEMPLATES_DIR / f"{key}.{part}.jinja").read_text(encoding="utf-8")
    return text[:-1] if text.endswith("\n") else text


def _builtin(key: str, title: str, explanation: str, kind: Kind) -> BuiltinTemplate:
    template = PromptTemplateText(system=template_file(key, "system"), user=template_file(key, "user"))
    return BuiltinTemplate(key, title, explanation, kind, template)


BUILTIN_TEMPLATES: dict[str, BuiltinTemplate] = {
    template.key: template
    for template in (
        _builtin(
            "zero-shot",
            "Zero-shot",
            "Only the task, the label and its description: the model writes from its own knowledge of the language.",
            "generate",
        ),
        _builtin(
            "demos",
            "With human examples",
            "Adds a few real texts of this label in the target language (train split only) to copy the style from.",
            "generate",
        ),
        _builtin(
            "diverse",
            "Diversity incentives",
            "Runs in rounds: bans the words earlier rounds overused and shows typical earlier texts to write away "
            "from.",
            "generate",
        ),
        _builtin(
            "revise",
            "Revise (second pass)",
            "A second pass: the model checks each generated text's language and label, and keeps, fixes or drops it.",
            "revise",
        ),
        _builtin(
            "targeted",
            "Targeted (a weak cell)",
            "For a confusion-matrix cell: texts of the label that are clearly not the label they are mistaken for.",
            "generate",
        ),
    )
}
