"""A team for review tests: an owner, a lead and annotators with the languages they judge (single sign-on accounts:
no password hash to compute), and a project of pending synthetic samples in chosen languages."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.front.accounts import add_account, add_project_member
from core.front.actor import Actor
from core.front.data import ColumnMapping, execute_import, plan_import
from core.front.projects import Project, create_project, get_project, parse_spec
from core.front.review import set_account_languages
from core.store import Store

LABELS = ("weather", "pests", "prices")


@dataclass(frozen=True)
class Team:
    owner: Actor
    lead: Actor
    annotators: dict[str, Actor]

    def __getitem__(self, name: str) -> Actor:
        return self.annotators[name]


def make_team(store: Store, languages: dict[str, list[str]]) -> Team:
    """olga (owner), lena (lead) and the annotators named, each judging the languages given."""
    add_account(Actor.of(store), "olga", "owner", None, email="olga@example.org")
    owner = Actor(store, "olga", "owner", team=True)
    add_account(owner, "lena", "lead", None, email="lena@example.org")
    annotators = {}
    for name, codes in languages.items():
        add_account(owner, name, "annotator", None, email=f"{name}@example.org")
        set_account_languages(owner, name, codes)
        annotators[name] = Actor(store, name, "annotator", team=True)
    return Team(owner, Actor(store, "lena", "lead", team=True), annotators)


def make_project(
    team: Team, per_language: dict[str, int], *, name: str = "crops", origin: str = "synthetic"
) -> Project:
    """A project with `n` pending samples per language (labels in turn); its lead and annotators are members."""
    project = create_project(
        team.owner,
        parse_spec(
            name=name, labels=[{"name": label} for label in LABELS], languages=[{"code": c} for c in per_language]
        ),
    )
    rows = [
        {"text": f"{language} sample {i}", "label": LABELS[i % len(LABELS)], "language": language}
        for language, n in per_language.items()
        for i in range(n)
    ]
    mapping = ColumnMapping(
        text_column="text", label_column="label", language_column="language", origin=origin, status="pending"
    )
    plan = plan_import(team.owner, project, pd.DataFrame(rows), mapping, "test rows")
    execute_import(team.owner, project, plan)
    for member in [team.lead.user, *team.annotators]:
        add_project_member(team.owner, project.id, member)
    return get_project(team.owner, project.id)


def assignment_rows(store: Store, project_id: int) -> list[tuple[int, str, str, bool]]:
    """(sample, annotator, state, gold) of every assignment of the project, as stored."""
    from sqlalchemy import select

    from core.store.schema import AssignmentRow

    with store.session() as session:
        query = (
            select(AssignmentRow.sample_id, AssignmentRow.annotator, AssignmentRow.state, AssignmentRow.gold)
            .where(AssignmentRow.project_id == project_id)
            .order_by(AssignmentRow.id)
        )
        return [(sample_id, annotator, state, gold) for sample_id, annotator, state, gold in session.execute(query)]


def languages_of_samples(store: Store, project_id: int) -> dict[int, str]:
    from core.store.samples import iter_samples

    return {sample.id: sample.language for sample in iter_samples(store, project_id)}
