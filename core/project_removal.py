"""Deleting a project with everything stored for it: its rows (the database cascades to samples, runs, jobs'
links...) and the files of its trained models, which would otherwise stay on disk unseen."""

from __future__ import annotations

from core.store.database import Store
from core.store.projects import Project, delete_project, get_project
from core.training import artifacts


def remove_project(store: Store, ref: int | str) -> Project:
    project = get_project(store, ref)
    delete_project(store, project.id)
    artifacts.remove_folder(artifacts.project_folder(project.id))
    return project
