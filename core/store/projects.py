"""Projects: task, labels (with descriptions and per-language names), languages, encoder."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.orm import Session, selectinload

from core.errors import InvalidInput, NotFound
from core.language_names import language_name, normalize_code
from core.settings import get_settings
from core.store import action_log
from core.store.database import Store
from core.store.samples import content_key
from core.store.schema import LabelRow, LanguageRow, ProjectRow, SampleRow, utcnow

MAX_NAME = 200


class LabelSpec(BaseModel):
    name: str
    description: str = ""
    # {language code: [the label's name in that language, then aliases]}
    names: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("a label needs a name")
        if "," in value or "=" in value:
            raise ValueError(f"label '{value}': commas and '=' are not allowed in label names")
        if len(value) > MAX_NAME:
            raise ValueError(f"label '{value[:30]}...' is longer than {MAX_NAME} characters")
        return value

    @field_validator("names")
    @classmethod
    def _names(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        cleaned: dict[str, list[str]] = {}
        for code, names in value.items():
            norm = normalize_code(code)
            if norm is None:
                raise ValueError(f"unknown language code '{code}' in a label's names")
            kept = [" ".join(n.split()) for n in names if n and n.strip()]
            if kept:
                cleaned[norm] = list(dict.fromkeys(kept))
        return cleaned

    def name_in(self, language: str) -> str:
        return (self.names.get(language) or [self.name])[0]


class LanguageSpec(BaseModel):
    code: str
    name: str = ""

    @model_validator(mode="after")
    def _known(self) -> LanguageSpec:
        norm = normalize_code(self.code)
        if norm is None:
            raise ValueError(f"unknown language code '{self.code}': use an ISO 639 code such as 'sw' (Swahili)")
        self.code = norm
        self.name = self.name.strip() or language_name(norm)
        return self


class ProjectSpec(BaseModel):
    name: str
    task: str = ""
    labels: list[LabelSpec]
    languages: list[LanguageSpec]
    encoder: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("the project needs a name")
        if len(value) > MAX_NAME:
            raise ValueError(f"the project name is longer than {MAX_NAME} characters")
        return value

    @model_validator(mode="after")
    def _unique(self) -> ProjectSpec:
        if not self.labels:
            raise ValueError("the project needs at least one label")
        if not self.languages:
            raise ValueError("the project needs at least one language")
        seen: set[str] = set()
        for label in self.labels:
            if label.name.lower() in seen:
                raise ValueError(f"the label '{label.name}' is listed twice")
            seen.add(label.name.lower())
        codes = [lang.code for lang in self.languages]
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        if dupes:
            raise ValueError(f"the language {', '.join(dupes)} is listed twice")
        return self


class Project(ProjectSpec):
    id: int
    encoder: str
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str

    @property
    def label_names(self) -> list[str]:
        return [label.name for label in self.labels]

    @property
    def language_codes(self) -> list[str]:
        return [lang.code for lang in self.languages]

    def label(self, name: str) -> LabelSpec | None:
        return next((label for label in self.labels if label.name == name), None)


def parse_spec(**fields: object) -> ProjectSpec:
    """Build a ProjectSpec, turning pydantic's errors into one readable message."""
    try:
        return ProjectSpec.model_validate(fields)
    except ValidationError as exc:
        raise InvalidInput(_readable(exc)) from None


def _readable(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        parts.append(message)
    return "; ".join(dict.fromkeys(parts))


def _to_project(row: ProjectRow) -> Project:
    return Project(
        id=row.id,
        name=row.name,
        task=row.task,
        encoder=row.encoder,
        labels=[LabelSpec(name=r.name, description=r.description, names=r.names or {}) for r in row.labels],
        languages=[LanguageSpec(code=r.code, name=r.name) for r in row.languages],
        created_at=row.created_at,
        created_by=row.created_by,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def _snapshot(project: Project | ProjectSpec) -> dict[str, Any]:
    return project.model_dump(mode="json", include={"name", "task", "encoder", "labels", "languages"})


def _load(session: Session, ref: int | str) -> ProjectRow:
    query = select(ProjectRow).options(selectinload(ProjectRow.labels), selectinload(ProjectRow.languages))
    row = None
    if isinstance(ref, str):
        row = session.scalar(query.where(ProjectRow.name == " ".join(ref.split())))
    if row is None and str(ref).strip().isdigit():
        row = session.scalar(query.where(ProjectRow.id == int(ref)))
    if row is None:
        raise NotFound(f"There is no project called '{ref}'. See the list of projects with: python -m core projects")
    return row


def _name_exists(session: Session, name: str) -> bool:
    return (session.scalar(select(func.count()).select_from(ProjectRow).where(ProjectRow.name == name)) or 0) > 0


def create_project(store: Store, spec: ProjectSpec) -> Project:
    with store.session() as session:
        if _name_exists(session, spec.name):
            raise InvalidInput(f"A project called '{spec.name}' already exists: pick another name.")
        row = ProjectRow(
            name=spec.name,
            task=spec.task.strip(),
            encoder=(spec.encoder or "").strip() or get_settings().default_encoder,
            created_by=store.user,
            updated_by=store.user,
        )
        _apply_children(row, spec)
        session.add(row)
        session.flush()
        project = _to_project(row)
        action_log.record(
            session,
            who=store.user,
            action="project.create",
            project_id=row.id,
            target=f"project:{row.id}",
            after=_snapshot(project),
        )
    return project


def _apply_children(row: ProjectRow, spec: ProjectSpec) -> None:
    row.labels = [
        LabelRow(position=i, name=label.name, description=label.description.strip(), names=label.names)
        for i, label in enumerate(spec.labels)
    ]
    row.languages = [LanguageRow(position=i, code=lang.code, name=lang.name) for i, lang in enumerate(spec.languages)]


def update_project(store: Store, ref: int | str, spec: ProjectSpec, renames: dict[str, str] | None = None) -> Project:
    """Replace a project's definition. `renames` maps old label names to new ones (samples follow).

    A label or language that samples still use cannot be removed: the message says how many samples use it.
    """
    renames = {old: new for old, new in (renames or {}).items() if old != new}
    with store.session() as session:
        row = _load(session, ref)
        before = _to_project(row)
        if spec.name != row.name and _name_exists(session, spec.name):
            raise InvalidInput(f"A project called '{spec.name}' already exists: pick another name.")
        new_labels = {label.name for label in spec.labels}
        for old, new in renames.items():
            if new not in new_labels:
                raise InvalidInput(f"The label '{old}' is renamed to '{new}', but '{new}' is not among the labels.")
        kept_or_renamed = new_labels | set(renames)
        for label in before.label_names:
            if label not in kept_or_renamed:
                used = _count_samples(session, row.id, SampleRow.label == label)
                if used:
                    raise InvalidInput(
                        f"The label '{label}' cannot be removed: {used} samples use it. Relabel or delete them first."
                    )
        new_codes = {lang.code for lang in spec.languages}
        for code in before.language_codes:
            if code not in new_codes:
                used = _count_samples(session, row.id, SampleRow.language == code)
                if used:
                    raise InvalidInput(
                        f"The language '{language_name(code)}' cannot be removed: {used} samples are in it."
                    )
        # read every renamed sample before writing any, so that swaps (a->b, b->a) and chains stay apart; the
        # content key holds the label, so it is recomputed (else re-importing an export would add duplicates)
        moved = []
        columns = (SampleRow.id, SampleRow.text, SampleRow.language, SampleRow.split, SampleRow.origin)
        for old, new in renames.items():
            query = select(*columns, SampleRow.version).where(SampleRow.project_id == row.id, SampleRow.label == old)
            for sample_id, text, language, split, origin, version in session.execute(query):
                moved.append(
                    {
                        "id": sample_id,
                        "label": new,
                        "content_key": content_key(text, new, language, split, origin),
                        "version": version + 1,
                        "updated_at": utcnow(),
                        "updated_by": store.user,
                    }
                )
        if moved:
            session.execute(update(SampleRow), moved)
        row.name = spec.name
        row.task = spec.task.strip()
        row.encoder = (spec.encoder or "").strip() or row.encoder
        row.updated_at = utcnow()
        row.updated_by = store.user
        # replace children: delete first so unique (project, name) constraints never see both
        row.labels.clear()
        row.languages.clear()
        session.flush()
        _apply_children(row, spec)
        session.flush()
        after = _to_project(row)
        action_log.record(
            session,
            who=store.user,
            action="project.update",
            project_id=row.id,
            target=f"project:{row.id}",
            before=_snapshot(before),
            after={**_snapshot(after), "renamed_labels": renames},
        )
    return after


def _count_samples(session: Session, project_id: int, condition: ColumnElement[bool]) -> int:
    return int(
        session.scalar(select(func.count()).select_from(SampleRow).where(SampleRow.project_id == project_id, condition))
        or 0
    )


def get_project(store: Store, ref: int | str) -> Project:
    with store.session() as session:
        return _to_project(_load(session, ref))


def has_projects(store: Store) -> bool:
    with store.session() as session:
        return session.scalar(select(ProjectRow.id).limit(1)) is not None


def list_projects(store: Store, *, only: Collection[int] | None = None) -> list[Project]:
    """Every project by name (`only`: just these ids, e.g. an account's projects)."""
    with store.session() as session:
        query = (
            select(ProjectRow)
            .options(selectinload(ProjectRow.labels), selectinload(ProjectRow.languages))
            .order_by(ProjectRow.name)
        )
        if only is not None:
            query = query.where(ProjectRow.id.in_(sorted(set(only))))
        return [_to_project(r) for r in session.scalars(query)]


def add_labels(store: Store, ref: int | str, names: list[str]) -> Project:
    project = get_project(store, ref)
    missing = [n for n in dict.fromkeys(names) if project.label(n) is None]
    if not missing:
        return project
    spec = ProjectSpec.model_validate(
        {**_snapshot(project), "labels": [*project.labels, *[LabelSpec(name=n) for n in missing]]}
    )
    return update_project(store, project.id, spec)


def delete_project(store: Store, ref: int | str) -> None:
    with store.session() as session:
        row = _load(session, ref)
        before = _to_project(row)
        count = _count_samples(session, row.id, SampleRow.id.isnot(None))
        session.execute(delete(SampleRow).where(SampleRow.project_id == row.id))
        session.delete(row)
        action_log.record(
            session,
            who=store.user,
            action="project.delete",
            project_id=before.id,
            target=f"project:{before.id}",
            before={**_snapshot(before), "samples": count},
        )


def set_encoder(store: Store, ref: int | str, encoder: str) -> Project:
    """Change the project's encoder (caches and thresholds are keyed by it, so nothing is mixed)."""
    project = get_project(store, ref)
    spec = ProjectSpec.model_validate({**_snapshot(project), "encoder": encoder.strip() or project.encoder})
    return update_project(store, project.id, spec)
