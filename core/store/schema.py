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
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

SAMPLE_ORIGINS = ("synthetic", "human")
SAMPLE_SPLITS = ("train", "test")
SAMPLE_STATUSES = ("unlabeled", "pending", "accepted", "rejected")
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
    generation_request_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
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


# a run is worked on by one active job at a time: the database refuses a second queued/running job for the same run
ACTIVE_RUN_INDEX = "uq_jobs_active_run"
_ACTIVE_JOB = text(f"status IN ({', '.join(repr(status) for status in JOB_ACTIVE_STATUSES)})")


class JobRow(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_status", "status"),
        Index(ACTIVE_RUN_INDEX, "run_key", unique=True, sqlite_where=_ACTIVE_JOB, postgresql_where=_ACTIVE_JOB),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="SET NULL"), nullable=True)
    kind: Mapped[str] = mapped_column(String(100))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)  # never secrets: workers get those by environment
    heavy: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued | running | done | failed | cancelled
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
    # "generate:12", "baseline:3", "train:7" for a job that works on an existing run (see ACTIVE_RUN_INDEX)
    run_key: Mapped[str | None] = mapped_column(String(100), nullable=True)


class PromptTemplateRow(Base):
    """One saved version of a prompt template: every edit is a new row (name, version)."""

    __tablename__ = "prompt_templates"
    __table_args__ = (UniqueConstraint("project_id", "name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    strategy: Mapped[str] = mapped_column(String(50))
    system: Mapped[str] = mapped_column(Text, default="")
    user: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))


class GenerationRunRow(Base):
    """A generation run: its settings (never an API key), plan and running totals."""

    __tablename__ = "generation_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    template_id: Mapped[int | None] = mapped_column(ForeignKey("prompt_templates.id"), nullable=True)
    strategy: Mapped[str] = mapped_column(String(50))
    backend: Mapped[str] = mapped_column(String(50))
    model: Mapped[str] = mapped_column(String(500))
    base_url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    plan: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {language: {label: n}}
    status: Mapped[str] = mapped_column(String(20), default="planned")
    message: Mapped[str] = mapped_column(Text, default="")
    failure_kind: Mapped[str | None] = mapped_column(String(30), nullable=True)  # core.generation.run_failures
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class CurationSettingRow(Base):
    """The near-duplicate threshold a person chose for a project's encoder (similarity scales differ by model)."""

    __tablename__ = "curation_settings"
    __table_args__ = (UniqueConstraint("project_id", "encoder", name="uq_curation_setting"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    encoder: Mapped[str] = mapped_column(String(500))
    threshold: Mapped[float] = mapped_column(Float)
    scope: Mapped[str] = mapped_column(String(20), default="cell")
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200))


class TrainingRunRow(Base):
    """A trained model (or a learning curve of them): settings, snapshot summary, live loss history, metrics."""

    __tablename__ = "training_runs"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_training_run_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    trainer: Mapped[str] = mapped_column(String(50))  # linear | finetune | hybrid
    mode: Mapped[str] = mapped_column(String(20), default="single")  # single | curve
    base_model: Mapped[str] = mapped_column(String(500), default="")
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the trainer's parameters
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)  # what goes into the snapshot (and curve sizes)
    snapshot: Mapped[dict[str, Any]] = mapped_column(default=dict)  # summary: counts per language x label, notes
    status: Mapped[str] = mapped_column(String(20), default="queued")
    message: Mapped[str] = mapped_column(Text, default="")
    history: Mapped[list[Any]] = mapped_column(default=list)  # loss points [{step, epoch, loss, split, ...}]
    # training figures (validation, fit, sample counts, notes); the test scores are the run's evaluation's (a run
    # trained before evaluations existed keeps its own under "test")
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    curve: Mapped[list[Any]] = mapped_column(default=list)  # learning-curve points with their metrics
    artifact_path: Mapped[str] = mapped_column(String(1000), default="")  # relative to the runs folder
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class BaselineRunRow(Base):
    """An LLM used directly as a classifier on the human test split (zero-shot or with k examples per label)."""

    __tablename__ = "baseline_runs"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_baseline_run_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    mode: Mapped[str] = mapped_column(String(20))  # zero-shot | synthetic-icl | human-icl
    k: Mapped[int] = mapped_column(Integer, default=0)  # in-context examples per label
    backend: Mapped[str] = mapped_column(String(50))
    model: Mapped[str] = mapped_column(String(500))
    base_url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)  # never an API key
    test_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="planned")
    message: Mapped[str] = mapped_column(Text, default="")
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class LlmRequestRow(Base):
    """One request put to an LLM by a generation run or an LLM baseline: saved before it is sent, its answer saved
    when it arrives (what makes a resume free). `run_kind` says which run table `run_id` points into."""

    __tablename__ = "llm_requests"
    __table_args__ = (
        Index("ix_llm_requests_run_status", "run_kind", "run_id", "status"),
        Index(
            "uq_llm_requests_generation",
            "run_id",
            "language",
            "label",
            "round",
            "index",
            unique=True,
            sqlite_where=text("run_kind = 'generation'"),
            postgresql_where=text("run_kind = 'generation'"),
        ),
        Index(
            "uq_llm_requests_baseline",
            "run_id",
            "sample_id",
            unique=True,
            sqlite_where=text("run_kind = 'baseline'"),
            postgresql_where=text("run_kind = 'baseline'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_kind: Mapped[str] = mapped_column(String(20))  # generation | baseline
    run_id: Mapped[int] = mapped_column(Integer)  # generation_runs.id or baseline_runs.id
    # the run's project: deleting the project deletes its requests (the run id points into one of two tables)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="generate")  # generate | revise | classify
    language: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(200))  # generation: the cell's label; baseline: the true label
    sample_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # baseline: the test sample asked about
    sample_ids: Mapped[list[Any]] = mapped_column(default=list)  # revise: the samples it checks, in order
    round: Mapped[int] = mapped_column(Integer, default=0)
    index: Mapped[int] = mapped_column(Integer, default=0)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    n_asked: Mapped[int] = mapped_column(Integer, default=1)
    messages: Mapped[list[Any]] = mapped_column(default=list)  # the rendered prompt exactly as sent
    status: Mapped[str] = mapped_column(String(20), default="planned")  # planned | answered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)  # the raw answer, kept even when unusable
    finish_reason: Mapped[str | None] = mapped_column(String(50), nullable=True)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    completion_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    parsed: Mapped[int] = mapped_column(Integer, default=0)
    dropped: Mapped[list[Any]] = mapped_column(default=list)  # [{text, reason}]
    predicted: Mapped[str | None] = mapped_column(String(200), nullable=True)  # baseline: the mapped label
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)  # baseline: label | ambiguous | unparseable
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class EvaluationRow(Base):
    """The scores of a training run or a baseline on the human test split, with the hash of the test-sample ids."""

    __tablename__ = "evaluations"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20))  # run | baseline
    training_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("training_runs.id", ondelete="CASCADE"), nullable=True
    )
    baseline_id: Mapped[int | None] = mapped_column(ForeignKey("baseline_runs.id", ondelete="CASCADE"), nullable=True)
    point: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the learning-curve point evaluated
    test_hash: Mapped[str] = mapped_column(String(64))
    test_size: Mapped[int] = mapped_column(Integer)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {language | "overall": scores}
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))


class EvaluationPredictionRow(Base):
    """One test sample's prediction in an evaluation (the truth copied: an evaluation does not change later)."""

    __tablename__ = "evaluation_predictions"

    id: Mapped[int] = mapped_column(primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluations.id", ondelete="CASCADE"), index=True)
    sample_id: Mapped[int] = mapped_column(Integer)
    language: Mapped[str] = mapped_column(String(20))
    true_label: Mapped[str] = mapped_column(String(200))
    predicted: Mapped[str | None] = mapped_column(String(200), nullable=True)  # None: no usable answer
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    outcome: Mapped[str] = mapped_column(String(20), default="label")  # label | ambiguous | unparseable | failed
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)  # baselines: the LLM's raw answer


ACCOUNT_ROLES = ("owner", "lead", "annotator", "viewer")


class AccountRow(Base):
    """A person who signs in (team mode); `password_hash` is an argon2 hash, None for single sign-on accounts."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), unique=True, nullable=True)
    password_hash: Mapped[str | None] = mapped_column(String(500), nullable=True)
    role: Mapped[str] = mapped_column(String(20))  # one of ACCOUNT_ROLES
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
    last_sign_in_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class ProjectMemberRow(Base):
    """An account's membership of a project (leads and annotators see only their projects)."""

    __tablename__ = "project_members"
    __table_args__ = (UniqueConstraint("project_id", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    added_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    added_by: Mapped[str] = mapped_column(String(200))
