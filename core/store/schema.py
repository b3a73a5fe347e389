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
    false,
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
        # the queues (core/store/samples.py): a status (and a language, label and "flagged") walked in id order, and
        # counted inside a block of ids, from the index alone; the id makes the walk ordered on PostgreSQL (SQLite
        # has it in every index). Counts by language, label and status come from the tallies (SampleTallyRow).
        Index("ix_samples_status_queue", "project_id", "status", "id", "language", "label", "flagged"),
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
    # whether the sample has a flag at all: kept by the database's triggers on the flags (migration 0015)
    flagged: Mapped[bool] = mapped_column(Boolean, server_default=false())
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


class SampleTallyRow(Base):
    """How many samples of a project there are per block of ids (id >> BLOCK_BITS) and status, language, label ('' for
    none), split, origin and flagged: kept by the database's triggers on the samples in every writing transaction
    (migration 0015), read by core/store/sample_tallies.py. On PostgreSQL a key may have several rows (to be summed):
    writers add theirs without waiting for each other."""

    __tablename__ = "sample_tallies"
    __table_args__ = (
        Index(
            "ix_sample_tallies_key", "project_id", "block", "status", "language", "label", "split", "origin", "flagged"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    block: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(200))
    split: Mapped[str] = mapped_column(String(20))
    origin: Mapped[str] = mapped_column(String(20))
    flagged: Mapped[bool] = mapped_column(Boolean)
    n: Mapped[int] = mapped_column(Integer)


class FlagTallyRow(Base):
    """How many samples of a project carry a flag of a kind, per kind, status, block of ids (id >> BLOCK_BITS),
    language, label ('' for none), split and origin: kept by the database's triggers on the flags and the samples
    (migration 0016), read by core/store/flag_tallies.py. On PostgreSQL a key may have several rows (to be summed)."""

    __tablename__ = "flag_tallies"
    __table_args__ = (
        Index("ix_flag_tallies_key", "project_id", "kind", "status", "block", "language", "label", "split", "origin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20))
    block: Mapped[int] = mapped_column(Integer)
    language: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(200))
    split: Mapped[str] = mapped_column(String(20))
    origin: Mapped[str] = mapped_column(String(20))
    n: Mapped[int] = mapped_column(Integer)


class FlagRow(Base):
    __tablename__ = "sample_flags"
    __table_args__ = (
        # the kinds present, counts per kind and a flag filter counted from the flags' side (samples.py)
        Index("ix_flags_project_kind_sample", "project_id", "kind", "sample_id"),
        # a kind's queue in the order of its score (core/store/ranked_queue.py; migration 0017)
        Index("ix_flags_project_kind_score", "project_id", "kind", "score", "sample_id"),
        UniqueConstraint("sample_id", "kind"),  # also the index that finds a sample's flags
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(50))
    reason: Mapped[str] = mapped_column(Text)  # readable by a non-programmer
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)  # the higher, the sooner its queue shows it
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
    executor: Mapped[str] = mapped_column(String(20), default="local", server_default="local")  # local | ray
    node: Mapped[str | None] = mapped_column(String(300), nullable=True)  # the Ray node id (ray); None: the host
    resources: Mapped[dict[str, float] | None] = mapped_column(JSON, nullable=True)  # what a Ray task asked for


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
    languages: Mapped[list[Any]] = mapped_column(default=list)  # the language codes the account can judge (review)
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


class AccountSessionRow(Base):
    """A signed-in browser session (team mode). The browser holds a random token in a cookie; the store keeps only
    its sha256, so a copy of the store signs nobody in. `sso_login` is the sha256 of the single sign-on login the
    session came from (each such login opens one session at most)."""

    __tablename__ = "account_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    method: Mapped[str] = mapped_column(String(20))  # "password" or "sso"
    sso_login: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    ended_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(300), nullable=True)


class LlmEndpointRow(Base):
    """A named LLM server set up by an owner: its address, models and the variable (environment or secrets.toml)
    that holds its key. Never the key itself."""

    __tablename__ = "llm_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    base_url: Mapped[str] = mapped_column(String(500), unique=True)  # normalized (one spelling per address)
    models: Mapped[list[Any]] = mapped_column(JSON)
    key_env: Mapped[str] = mapped_column(String(200))  # empty: no key (a server on this machine)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200))


# --- review work (team mode, part 2): who judges which sample, their judgements, and what follows from them ------

REVIEW_RULES = ("unanimous", "majority")
JUDGEMENT_DECISIONS = ("accept", "reject", "label", "edit")
ASSIGNMENT_STATES = ("open", "done", "removed")  # removed: re-balanced away, its annotator left, or a lead decided
# open: waiting for judgements; resolved: the rule gave the answer; adjudication: waiting for a lead; adjudicated: a
# lead decided it there; decided: a lead accepted or rejected it directly, taking it out of every queue
REVIEW_STATES = ("open", "resolved", "adjudication", "adjudicated", "decided")
_ACTIVE_ASSIGNMENT = text("state != 'removed'")


class ReviewSettingRow(Base):
    """A project's review rules: how many annotators judge each sample, and how their judgements decide it."""

    __tablename__ = "review_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), unique=True)
    overlap: Mapped[int] = mapped_column(Integer, default=2)  # k: judgements per sample, 1..5
    rule: Mapped[str] = mapped_column(String(20), default="unanimous")  # one of REVIEW_RULES
    gold: Mapped[bool] = mapped_column(Boolean, default=False)  # gold samples mixed into the queues
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200))


class AssignmentRow(Base):
    """One sample in one annotator's queue. At most one active (open or done) per sample and annotator."""

    __tablename__ = "assignments"
    __table_args__ = (
        Index("ix_assignments_queue", "project_id", "annotator", "state", "position", "id"),
        Index("ix_assignments_sample", "sample_id"),
        Index(
            "uq_assignments_active",
            "sample_id",
            "annotator",
            unique=True,
            sqlite_where=_ACTIVE_ASSIGNMENT,
            postgresql_where=_ACTIVE_ASSIGNMENT,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # the sample's project, copied for the queue's index (no foreign key of its own: the sample's deletes the row,
    # and one fewer check per row keeps distributing 100,000 samples fast)
    project_id: Mapped[int] = mapped_column(Integer)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"))
    annotator: Mapped[str] = mapped_column(String(100))  # the account's username
    gold: Mapped[bool] = mapped_column(Boolean, default=False)  # a gold check, never announced to the annotator
    overlap: Mapped[int] = mapped_column(Integer, default=0)  # the judgements the sample needs (k); 0 for gold
    position: Mapped[int] = mapped_column(Integer)  # the order of the annotator's queue
    state: Mapped[str] = mapped_column(String(20), default="open")  # one of ASSIGNMENT_STATES
    assigned_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    assigned_by: Mapped[str] = mapped_column(String(200))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    closed_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)  # judged | rebalanced | left | ...


class AssignmentTallyRow(Base):
    """How many assignments an annotator has in a project per state: kept by the database's triggers on the
    assignments (migration 0016), read for "My queue". On PostgreSQL a key may have several rows (to be summed)."""

    __tablename__ = "assignment_tallies"
    __table_args__ = (Index("ix_assignment_tallies_key", "project_id", "annotator", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    annotator: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20))
    n: Mapped[int] = mapped_column(Integer)


class JudgementRow(Base):
    """One annotator's judgement of one sample: what they decided, how long it took, when."""

    __tablename__ = "judgements"
    __table_args__ = (
        UniqueConstraint("sample_id", "annotator", name="uq_judgements_sample_annotator"),
        Index("ix_judgements_project_annotator", "project_id", "annotator", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"))
    assignment_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    annotator: Mapped[str] = mapped_column(String(100))
    decision: Mapped[str] = mapped_column(String(20))  # one of JUDGEMENT_DECISIONS
    label: Mapped[str | None] = mapped_column(String(200), nullable=True)  # the label it gives; None: rejected
    shown_label: Mapped[str | None] = mapped_column(String(200), nullable=True)  # the sample's label when judged
    text: Mapped[str | None] = mapped_column(Text, nullable=True)  # an edit's new text
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)  # time taken, when the page measured it
    gold: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ReviewItemRow(Base):
    """What became of a sample's review (see REVIEW_STATES): made by its first judgement (or a lead's direct
    decision), so distributing work writes assignments only."""

    __tablename__ = "review_items"
    # the adjudication queue in its order (oldest first), a page at a time; counts per state
    __table_args__ = (Index("ix_review_items_queue", "project_id", "state", "closed_at", "sample_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), unique=True)
    overlap: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20), default="open")
    outcome_status: Mapped[str | None] = mapped_column(String(20), nullable=True)  # accepted | rejected
    outcome_label: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # the sample before the rule changed it, and its version after (what undoing the last judgement restores)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    after_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))


class GoldSampleRow(Base):
    """A human sample a lead marked as gold: its right label, to check annotators against."""

    __tablename__ = "gold_samples"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    marked_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    marked_by: Mapped[str] = mapped_column(String(200))
