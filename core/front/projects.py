"""Projects at the front door: open the studio, list, create, edit and delete projects, the totals the Projects
page shows, and the guide: where a project stands in the loop, and the one suggested next step."""

from __future__ import annotations

from core import demo, guide, project_removal
from core.front.actor import Actor
from core.front.permissions import joins_created_project, needs, reads, require_member_if_named, visible_project_ids
from core.guide import LoopStatus as LoopStatus
from core.guide import Step as Step
from core.guide import StepState as StepState
from core.store import open_store, sample_stats
from core.store import projects as project_store
from core.store.database import Store
from core.store.project_forms import NAMES_PREFIX as NAMES_PREFIX
from core.store.project_forms import EditedLabels as EditedLabels
from core.store.project_forms import label_table as label_table
from core.store.project_forms import labels_from_table as labels_from_table
from core.store.project_forms import names_column_title as names_column_title
from core.store.project_forms import parse_label_lines as parse_label_lines
from core.store.projects import LabelSpec as LabelSpec
from core.store.projects import Project as Project
from core.store.projects import ProjectSpec as ProjectSpec
from core.store.projects import parse_spec as parse_spec
from core.store.sample_stats import ProjectTotals as ProjectTotals

__all__ = [
    "NAMES_PREFIX",
    "EditedLabels",
    "LabelSpec",
    "LoopStatus",
    "Project",
    "ProjectSpec",
    "ProjectTotals",
    "Step",
    "StepState",
    "create_demo_project",
    "create_project",
    "get_project",
    "label_table",
    "labels_from_table",
    "list_projects",
    "loop_status",
    "names_column_title",
    "open_studio",
    "overview_table",
    "parse_label_lines",
    "parse_spec",
    "project_totals",
    "remove_project",
    "update_project",
]


def open_studio(database_url: str, user: str, *, create_demo: bool) -> Store:
    """The studio's store for a server (migrated), with the demo project on a first start when asked."""
    store = open_store(database_url, user)
    if create_demo:
        demo.ensure_demo_on_first_start(store)
    return store


@reads
def list_projects(actor: Actor) -> list[Project]:
    """Every project (a lead or an annotator: those they are a member of)."""
    return project_store.list_projects(actor.store, only=visible_project_ids(actor))


@reads
def get_project(actor: Actor, ref: int | str) -> Project:
    """The project by id or name; NotFound when there is none."""
    return project_store.get_project(actor.store, ref)


@needs("project.create")
def create_project(actor: Actor, spec: ProjectSpec) -> Project:
    project = project_store.create_project(actor.store, spec)
    joins_created_project(actor, project.id)
    return project


@needs("project.create")
def create_demo_project(actor: Actor) -> Project:
    """The demo project, made now or before (a demo made before by someone else is theirs: a lead who is not its
    member is refused, not let in)."""
    require_member_if_named(actor, demo.demo_definition()["name"])
    project = demo.create_demo_project(actor.store)
    joins_created_project(actor, project.id)
    return project


@needs("project.edit")
def update_project(actor: Actor, ref: int | str, spec: ProjectSpec, renames: dict[str, str] | None = None) -> Project:
    return project_store.update_project(actor.store, ref, spec, renames=renames)


@needs("project.delete")
def remove_project(actor: Actor, ref: int | str) -> Project:
    """Removes the project, its samples and everything made from them."""
    return project_removal.remove_project(actor.store, ref)


@reads
def project_totals(actor: Actor, project: Project) -> ProjectTotals:
    return sample_stats.project_totals(actor.store, project.id)


@reads
def overview_table(actor: Actor, project: Project) -> list[dict[str, object]]:
    """One row per language (counts by label and status), ready for a table."""
    return sample_stats.overview_table(actor.store, project)


@reads
def loop_status(actor: Actor, project: Project) -> LoopStatus:
    """Where the project stands in the loop, step by step, and the one suggested next step."""
    return guide.loop_status(actor.store, project)
