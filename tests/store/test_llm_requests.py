"""The one ledger of LLM requests (core.store.llm_requests): the migration that merges the generation and baseline
request tables into it keeps every row, and the ledger's own bookkeeping (plan once, resume only the unanswered,
count failures) holds for both kinds of run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, select, text

from core.store import Store, baselines, generation_runs, llm_requests
from core.store.database import alembic_config
from core.store.llm_requests import LedgerRun, LlmAnswer, LlmRequest
from core.store.projects import create_project, delete_project, parse_spec
from core.store.schema import LlmRequestRow, SampleRow

OLD_ROWS = [
    "INSERT INTO projects (id, name, task, encoder, created_at, created_by, updated_at, updated_by) "
    "VALUES (1, 'old', '', 'bundled:multilingual-e5-small', '2026-01-01', 'a', '2026-01-01', 'a')",
    "INSERT INTO project_labels (project_id, position, name, description, names) VALUES (1, 0, 'x', '', '{}')",
    "INSERT INTO project_languages (project_id, position, code, name) VALUES (1, 0, 'sw', 'Swahili')",
    "INSERT INTO generation_runs (id, project_id, strategy, backend, model, params, plan, status, message, "
    "prompt_tokens, completion_tokens, created_at, created_by) VALUES (1, 1, 'standard', 'replay', 'm', '{}', "
    "'{\"sw\": {\"x\": 2}}', 'incomplete', '', 30, 12, '2026-01-02', 'a')",
    # an answered generate request, a failed one, and an answered revise request
    "INSERT INTO generation_requests (id, run_id, kind, sample_ids, language, label, round, index, seed, n_asked, "
    "messages, status, attempts, answer, finish_reason, prompt_tokens, completion_tokens, parsed, dropped, error, "
    "created_at, answered_at) VALUES (5, 1, 'generate', '[]', 'sw', 'x', 0, 0, 11, 2, "
    '\'[{"role": "user", "content": "two please"}]\', \'answered\', 1, \'["habari"]\', \'stop\', 20, 8, 1, '
    "'[{\"text\": \"hello\", \"reason\": \"not Swahili\"}]', '', '2026-01-02', '2026-01-02 00:01:00')",
    "INSERT INTO generation_requests (id, run_id, kind, sample_ids, language, label, round, index, seed, n_asked, "
    "messages, status, attempts, answer, finish_reason, prompt_tokens, completion_tokens, parsed, dropped, error, "
    "created_at, answered_at) VALUES (6, 1, 'generate', '[]', 'sw', 'x', 0, 1, 12, 1, "
    '\'[{"role": "user", "content": "one please"}]\', \'failed\', 4, NULL, NULL, NULL, NULL, 0, \'[]\', '
    "'The server timed out.', '2026-01-02', NULL)",
    "INSERT INTO generation_requests (id, run_id, kind, sample_ids, language, label, round, index, seed, n_asked, "
    "messages, status, attempts, answer, finish_reason, prompt_tokens, completion_tokens, parsed, dropped, error, "
    "created_at, answered_at) VALUES (7, 1, 'revise', '[1]', 'sw', 'x', 1000, 0, 13, 1, "
    '\'[{"role": "user", "content": "check"}]\', \'answered\', 1, \'keep\', NULL, 10, 4, 1, '
    "'[{\"text\": \"1\", \"reason\": \"keep\"}]', '', '2026-01-02', '2026-01-02 00:02:00')",
    "INSERT INTO samples (id, project_id, text, label, language, origin, split, status, content_key, source, "
    "generation_run_id, generation_request_id, version, created_at, created_by, updated_at, updated_by) VALUES "
    "(1, 1, 'habari', 'x', 'sw', 'synthetic', 'train', 'pending', 'k1', 'generation run 1', 1, 5, 1, "
    "'2026-01-02', 'a', '2026-01-02', 'a')",
    "INSERT INTO samples (id, project_id, text, label, language, origin, split, status, content_key, source, "
    "version, created_at, created_by, updated_at, updated_by) VALUES "
    "(2, 1, 'mvua', 'x', 'sw', 'human', 'test', 'accepted', 'k2', 'f', 1, '2026-01-01', 'a', '2026-01-01', 'a')",
    "INSERT INTO samples (id, project_id, text, label, language, origin, split, status, content_key, source, "
    "version, created_at, created_by, updated_at, updated_by) VALUES "
    "(3, 1, 'jua', 'x', 'sw', 'human', 'test', 'accepted', 'k3', 'f', 1, '2026-01-01', 'a', '2026-01-01', 'a')",
    "INSERT INTO baseline_runs (id, project_id, name, mode, k, backend, model, params, test_hash, status, message, "
    "prompt_tokens, completion_tokens, created_at, created_by) VALUES (1, 1, 'llm', 'zero-shot', 0, 'openai', "
    "'gpt', '{}', 'h', 'incomplete', '', 9, 2, '2026-01-03', 'a')",
    # one answered with its mapped label, one failed
    "INSERT INTO baseline_requests (id, baseline_id, sample_id, language, true_label, seed, messages, status, "
    "attempts, answer, predicted, outcome, prompt_tokens, completion_tokens, error, answered_at) VALUES "
    "(1, 1, 2, 'sw', 'x', 21, '[{\"role\": \"user\", \"content\": \"mvua?\"}]', 'answered', 2, 'X', 'x', 'label', "
    "9, 2, '', '2026-01-03 00:01:00')",
    "INSERT INTO baseline_requests (id, baseline_id, sample_id, language, true_label, seed, messages, status, "
    "attempts, answer, predicted, outcome, prompt_tokens, completion_tokens, error, answered_at) VALUES "
    "(2, 1, 3, 'sw', 'x', 22, '[{\"role\": \"user\", \"content\": \"jua?\"}]', 'failed', 3, NULL, NULL, NULL, "
    "NULL, NULL, 'Too many requests.', NULL)",
]

GENERATION_ROWS = [
    # id, kind, language, label, sample_id, sample_ids, round, index, seed, n_asked, status, attempts, answer,
    # finish_reason, tokens, parsed, dropped, predicted, outcome, error
    (5, "generate", "sw", "x", None, [], 0, 0, 11, 2, "answered", 1, '["habari"]', "stop", (20, 8), 1,
     [{"text": "hello", "reason": "not Swahili"}], None, None, ""),
    (6, "generate", "sw", "x", None, [], 0, 1, 12, 1, "failed", 4, None, None, (None, None), 0, [], None, None,
     "The server timed out."),
    (7, "revise", "sw", "x", None, [1], 1000, 0, 13, 1, "answered", 1, "keep", None, (10, 4), 1,
     [{"text": "1", "reason": "keep"}], None, None, ""),
]  # fmt: skip


def _ledger_rows(store: Store, run_kind: str) -> list[tuple[Any, ...]]:
    with store.session() as session:
        return [
            (
                r.id, r.kind, r.language, r.label, r.sample_id, r.sample_ids, r.round, r.index, r.seed, r.n_asked,
                r.status, r.attempts, r.answer, r.finish_reason, (r.prompt_tokens, r.completion_tokens), r.parsed,
                r.dropped, r.predicted, r.outcome, r.error,
            )
            for r in session.scalars(
                select(LlmRequestRow).where(LlmRequestRow.run_kind == run_kind).order_by(LlmRequestRow.id)
            )
        ]  # fmt: skip


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_two_request_tables_become_one_ledger_with_every_row(
    backend: str, studio_home: Path, request: pytest.FixtureRequest
) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from core.store.schema import Base

    studio_home.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{studio_home / 'old.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    with engine.begin() as connection:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        command.upgrade(config, "0007")
    with engine.begin() as connection:
        for statement in OLD_ROWS:
            connection.execute(text(statement.replace(" index,", ' "index",')))
    engine.dispose()

    store = Store(url, "tester")  # opening the store migrates
    tables = set(inspect(store.engine).get_table_names())
    assert "llm_requests" in tables and not {"generation_requests", "baseline_requests"} & tables
    with store.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []

    assert _ledger_rows(store, "generation") == [tuple(row) for row in GENERATION_ROWS]
    [answered, failed] = _ledger_rows(store, "baseline")
    assert answered[1:] == (
        "classify", "sw", "x", 2, [], 0, 0, 21, 1, "answered", 2, "X", None, (9, 2), 0, [], "x", "label", "",
    )  # fmt: skip
    assert failed[1:] == (
        "classify", "sw", "x", 3, [], 0, 0, 22, 1, "failed", 3, None, None, (None, None), 0, [], None, None,
        "Too many requests.",
    )  # fmt: skip
    assert answered[0] > 7 and failed[0] == answered[0] + 1  # after the generation ids, in their old order
    with store.session() as session:
        assert session.scalar(select(SampleRow.generation_request_id).where(SampleRow.id == 1)) == 5
        messages = list(session.scalars(select(LlmRequestRow.messages).order_by(LlmRequestRow.id)))
        assert messages[3] == [{"role": "user", "content": "mvua?"}]
        created = session.scalar(select(LlmRequestRow.created_at).where(LlmRequestRow.sample_id == 2))
        assert created is not None and created.isoformat().startswith("2026-01-03")

    # the stores read the migrated rows as they read the old ones
    counts = generation_runs.run_counts(store, 1)
    assert (counts.answered, counts.failed, counts.unsent, counts.requests) == (1, 1, 0, {("sw", "x"): 2})
    assert generation_runs.failed_request_ids(store, 1) == [6]
    assert generation_runs.next_round(store, 1) == 1
    assert generation_runs.revision_summary(store, 1) == {"keep": 1}
    assert [r.id for r in generation_runs.unanswered_requests(store, 1)] == [6]
    assert [(r["id"], r["status"], r["dropped"]) for r in generation_runs.request_rows(store, 1)] == [
        (5, "answered", 1),
        (6, "failed", 0),
        (7, "answered", 1),
    ]
    assert baselines.request_counts(store, 1) == {
        "total": 2, "planned": 0, "answered": 1, "failed": 1, "label": 1, "ambiguous": 0, "unparseable": 0,
    }  # fmt: skip
    assert [(p.sample_id, p.predicted, p.outcome) for p in baselines.baseline_predictions(store, 1)] == [
        (2, "x", "label"),
        (3, None, "failed"),
    ]
    assert [(r.sample_id, r.messages) for r in baselines.unanswered_requests(store, 1)] == [
        (3, [{"role": "user", "content": "jua?"}])
    ]

    # new requests get new ids (PostgreSQL's sequence moved past the copied ones)
    run = generation_runs.get_run(store, 1)
    new = [LlmRequest("sw", "x", 1, 0, 99, 1, [{"role": "user", "content": "more"}])]
    generation_runs.save_requests(store, run, new)
    assert new[0].id is not None and new[0].id > failed[0]

    config = alembic_config(url)
    command.downgrade(config, "0007")
    tables = set(inspect(store.engine).get_table_names())
    assert {"generation_requests", "baseline_requests"} <= tables and "llm_requests" not in tables
    with store.engine.connect() as connection:
        old = connection.execute(text("SELECT id, status, dropped FROM generation_requests ORDER BY id")).all()
        assert [(i, s) for i, s, _ in old] == [(5, "answered"), (6, "failed"), (7, "answered"), (new[0].id, "planned")]
        dropped = json.loads(old[0][2]) if isinstance(old[0][2], str) else old[0][2]
        assert dropped == GENERATION_ROWS[0][16]
        kept = connection.execute(
            text("SELECT sample_id, status, predicted, outcome, error FROM baseline_requests ORDER BY sample_id")
        ).all()
        assert [tuple(r) for r in kept] == [
            (2, "answered", "x", "label", ""),
            (3, "failed", None, None, "Too many requests."),
        ]
    command.upgrade(config, "head")
    assert len(_ledger_rows(store, "generation")) == 4 and len(_ledger_rows(store, "baseline")) == 2
    store.dispose()


def test_the_ledger_plans_once_resumes_the_unanswered_and_counts_failures(store: Store) -> None:
    project = create_project(
        store, parse_spec(name="P", labels=[{"name": "x"}, {"name": "y"}], languages=[{"code": "sw"}])
    )
    run = generation_runs.create_run(
        store,
        project.id,
        template_id=None,
        strategy="standard",
        backend="replay",
        model="m",
        base_url=None,
        params={},
        plan={"sw": {"x": 2}},
    )
    ledger = LedgerRun("generation", run.id)
    planned = [LlmRequest("sw", "x", 0, i, i, 1, [{"role": "user", "content": str(i)}]) for i in range(3)]
    generation_runs.save_requests(store, run, planned)
    ids = [r.id for r in planned]
    again = [LlmRequest("sw", "x", 0, i, 50 + i, 1, [{"role": "user", "content": "other"}]) for i in range(4)]
    generation_runs.save_requests(store, run, again)  # the first three are saved already: only the fourth is new
    assert [r.id for r in again[:3]] == ids and again[3].id not in ids
    assert [r.seed for r in llm_requests.pending_requests(store, ledger)] == [0, 1, 2, 53]

    llm_requests.record_answer(store, ledger, int(ids[0] or 0), LlmAnswer("a", 5, 3, parsed=1), cost=0.5)
    llm_requests.record_failure(store, int(ids[1] or 0), "Too many requests.", 3)
    llm_requests.record_failure(store, int(ids[1] or 0), "Too many requests.", 2)
    assert [r.id for r in llm_requests.pending_requests(store, ledger)] == [ids[1], ids[2], again[3].id]
    [failed] = llm_requests.list_requests(store, ledger, status="failed")
    assert (failed.id, failed.attempts, failed.error) == (ids[1], 5, "Too many requests.")
    finished = generation_runs.get_run(store, run.id)
    assert (finished.prompt_tokens, finished.completion_tokens, finished.cost) == (5, 3, 0.5)
    counts = {(c.status, c.n) for c in llm_requests.count_requests(store, ledger)}
    assert counts == {("answered", 1), ("failed", 1), ("planned", 2)}

    # a baseline's requests share the table, not the run: the same run id stays apart
    baseline = baselines.create_baseline(
        store,
        [{"sample_id": 7, "language": "sw", "true_label": "y", "seed": 1, "messages": []}],
        project_id=project.id,
        name="llm",
        mode="zero-shot",
        k=0,
        backend="openai",
        model="gpt",
        base_url=None,
        params={},
        test_hash="h",
    )
    assert [r.sample_id for r in baselines.unanswered_requests(store, baseline.id)] == [7]
    assert len(llm_requests.pending_requests(store, ledger)) == 3

    delete_project(store, project.id)  # the project's requests go with it
    with store.session() as session:
        assert session.scalars(select(LlmRequestRow)).all() == []
