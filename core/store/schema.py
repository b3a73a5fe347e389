"""The store's tables (SQLAlchemy 2.x ORM). Changes go through a migration in `core/store/migrations`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

SAMPLE_ORIGINS = ("synthetic", "human")
SAMPLE_SPLITS = ("train", "test")
SAMPLE_STATUSES = ("unlabeled", "pending", "accepted", "rejected")
JOB_STATUSES = ("queued", "running", "done", "failed", "cancelled")
JOB_ACTIVE_STATUSES = ("queued", "running")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class ProjectRow(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    task: Mapped[str] = mapped_column(Text, default="")
    encoder: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200))

    labels: Mapped[list[LabelRow]] = relationship(
        back_populates="project", cascade="all, delete-orphan", order_by="LabelRow.position"
    )
    languages: Mapped[list[LanguageRow]] = relationship(
        back_populates="project", cascade="all, delete-orphan", order_by="LanguageRow.position"
    )


class LabelRow(Base):
    __tablename__ = "project_labels"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # {language code: [name in that language, alias, ...]}
    names: Mapped[dict[str, Any]] = mapped_column(default=dict)

    project: Mapped[ProjectRow] = relationship(back_populates="labels")


class LanguageRow(Base):
    __tablename__ = "project_languages"
    __table_args__ = (UniqueConstraint("project_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))

    project: Mapped[ProjectRow] = relationship(back_populates="languages")


class SampleRow(Base):
    __tablename__ = "samples"
    __table_args__ = (
        Index("ix_samples_project_key", "project_id", "content_key"),
        Index("ix_samples_project_lang_label", "project_id", "language", "label"),
        Index("ix_samples_project_status", "project_id", "status"),
        Index("ix_samples_project_split_origin", "project_id", "split", "origin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    label: Mapped[str | None] = mapped_column(String(200), nullable=True)
    language: Mapped[str] = mapped_column(String(20))
    origin: Mapped[str] = mapped_column(String(20))
    split: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    # sha1 of (text, label, language, split, origin): what makes re-importing a file add nothing
    content_key: Mapped[str] = mapped_column(String(40))
    # provenance
    source: Mapped[str] = mapped_column(String(500), default="")
    generation_run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    prompt_version: Mapped[str | None] = mapped_column(String(200), nullable=True)
    model: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # optimistic locking: every change increments it; a write that names an older version is refused
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200))

    flags: Mapped[list[FlagRow]] = relationship(
        back_populates="sample", cascade="all, delete-orphan", passive_deletes=True, order_by="FlagRow.id"
    )


class FlagRow(Base):
    __tablename__ = "sample_flags"
    __table_args__ = (
        Index("ix_flags_project_kind", "project_id", "kind"),
        UniqueConstraint("sample_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(50))
    reason: Mapped[str] = mapped_column(Text)  # readable by a non-programmer
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    sample: Mapped[SampleRow] = relationship(back_populates="flags")


class ActionRow(Base):
    """Append-only: who did what, when, with the state before and after (for undo and audit)."""

    __tablename__ = "actions"
    __table_args__ = (Index("ix_actions_project_at", "project_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    who: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(200), default="")
    batch: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class JobRow(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="SET NULL"), nullable=True)
    kind: Mapped[str] = mapped_column(String(100))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)  # never secrets: workers get those by environment
    heavy: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    log_path: Mapped[str] = mapped_column(String(1000), default="")
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    worker_pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    worker_host: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
