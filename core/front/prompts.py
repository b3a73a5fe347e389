"""Prompts at the front door: the built-in templates, a project's templates and their versions, checking a template
and previewing exactly what it sends for a real cell."""

from __future__ import annotations

from core.front.actor import Actor
from core.front.permissions import needs, reads
from core.generation import prompt_library
from core.generation.builtin_templates import BUILTIN_TEMPLATES as BUILTIN_TEMPLATES
from core.generation.builtin_templates import BuiltinTemplate as BuiltinTemplate
from core.generation.engine import GenerationSettings
from core.generation.prompt_context import build_context
from core.generation.prompt_library import template_diff as template_diff
from core.generation.prompt_render import PromptTemplateText as PromptTemplateText
from core.generation.prompt_render import RenderedPrompt as RenderedPrompt
from core.generation.prompt_render import TemplateProblem as TemplateProblem
from core.generation.prompt_render import referenced_variables, render
from core.generation.prompt_validation import validate as validate
from core.store.projects import Project
from core.store.templates import TemplateVersion as TemplateVersion

__all__ = [
    "BUILTIN_TEMPLATES",
    "BuiltinTemplate",
    "PromptTemplateText",
    "RenderedPrompt",
    "TemplateProblem",
    "TemplateVersion",
    "ensure_builtin_templates",
    "preview_prompt",
    "save_template",
    "template_diff",
    "template_versions",
    "validate",
]


@needs("prompts.builtins")
def ensure_builtin_templates(actor: Actor, project: Project) -> list[TemplateVersion]:
    """The project's templates (newest version of each), the built-in ones added first when missing."""
    return prompt_library.ensure_builtin_templates(actor.store, project.id)


@reads
def template_versions(actor: Actor, project: Project, name: str) -> list[TemplateVersion]:
    """Every version of the template, newest first."""
    return prompt_library.template_versions(actor.store, project.id, name)


@needs("prompts.edit")
def save_template(
    actor: Actor, project: Project, name: str, *, strategy: str, user: str, system: str = "", note: str = ""
) -> TemplateVersion:
    """Saves the text as the template's next version (a new template when the name is new)."""
    return prompt_library.save_template(
        actor.store, project.id, name, strategy=strategy, user=user, system=system, note=note
    )


@reads
def preview_prompt(
    actor: Actor, project: Project, template: PromptTemplateText, strategy: str, cell: tuple[str, str], n: int = 5
) -> RenderedPrompt:
    """Exactly what the template sends for the (language, label) cell, examples drawn from human TRAIN samples."""
    settings = GenerationSettings(backend="replay", model="preview", per_cell=n, strategy=strategy)
    context = build_context(
        actor.store, project, cell, n, settings, seed=0, earlier=[], uses=referenced_variables(template)
    )
    return render(template, context)
