"""A generation run against a slow one-slot server, as a team without a cloud key runs one (llama.cpp on a CPU).

Target (issue 13): a run of 30 requests against the test server at 5 tokens/s and one slot finishes with no
timeout and no abandoned work, its wall time within 1.1x the server's own busy time (the time its slot spent
generating). Each row is one real run through the engine (real HTTP server on 127.0.0.1, real SQLite store), asked
for concurrency 8 as a user would leave it:

- llama.cpp: the server tells its slots (`/props`), so the run sends one request at a time from the start;
- learned: the server does not tell (Ollama, LM Studio), so the run starts with one and finds out;
- the way it was (`stream=False`, the old fixed 60 s timeout, 8 at once): for comparison, on fewer requests.

.venv/bin/python bench/bench_local_server.py [--requests 30] [--tokens-per-second 5] [--tokens 20]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd

from core.generation.engine import GenerationSettings, execute_run, start_run
from core.generation.llm_backend import RetryPolicy, Timeouts
from core.generation.openai_backend import OpenAIBackend
from core.io.importer import ColumnMapping, execute_import, plan_import
from core.settings import reset_settings
from core.store import Store
from core.store.projects import create_project, parse_spec
from tests.openai_server import ScriptedOpenAIServer

MODEL = "qwen2.5-0.5b-instruct-q4_k_m.gguf"


@dataclass(frozen=True)
class Row:
    name: str
    requests: int
    wall: float
    cpu: float
    busy: float
    timeouts: int
    abandoned: float
    max_waiting: int
    samples: int

    @property
    def ratio(self) -> float:
        return self.wall / self.busy if self.busy else float("nan")


def answer(tokens: int) -> str:
    """Two samples of tokens/2 words each (the server counts words as tokens)."""
    half = max(1, tokens // 2 - 1)
    return "\n".join(f"{i}. " + " ".join(f"neno{i}{j}" for j in range(half)) for i in (1, 2))


def run_once(
    name: str, requests: int, tps: float, tokens: int, *, props: bool, stream: bool, timeouts: Timeouts
) -> Row:
    with tempfile.TemporaryDirectory() as home:
        os.environ["STUDIO_HOME"] = home
        reset_settings()
        store = Store(f"sqlite:///{home}/studio.db", "bench")
        project = create_project(
            store, parse_spec(name="bench", labels=[{"name": "weather"}], languages=[{"code": "sw"}])
        )
        frame = pd.DataFrame([("Mvua itanyesha kesho?", "weather")], columns=["text", "label"])
        execute_import(
            store, project, plan_import(store, project, frame, ColumnMapping("text", "label", language="sw"), "x")
        )
        settings = GenerationSettings(
            backend="openai", model=MODEL, per_cell=2 * requests, per_request=2, concurrency=8, seed=1,
            request_budget=1.0, connect_timeout=timeouts.connect, idle_timeout=timeouts.idle,
            timeout=timeouts.total, stream=stream,
        )  # fmt: skip
        log: list[str] = []
        with ScriptedOpenAIServer(
            models=[MODEL], any_model=True, slots=1, props=props, tokens_per_second=tps,
            responder=lambda body: answer(tokens),
        ) as server:  # fmt: skip
            settings.base_url = server.base_url
            run = start_run(store, project.id, settings)
            cpu0, wall0 = _cpu(), time.perf_counter()
            outcome = execute_run(
                store, run.id, OpenAIBackend(server.base_url, "sk-local", timeouts, stream=stream),
                policy=RetryPolicy(max_attempts=2, base_delay=0.5), log=log.append,
            )  # fmt: skip
            wall, cpu = time.perf_counter() - wall0, _cpu() - cpu0
            server.wait_for(lambda s: s.generating == 0, 600)
            timeouts_seen = sum("failed (" in line and "sent nothing" in line for line in log)
            row = Row(
                name, requests, wall, cpu, server.busy_seconds, timeouts_seen, server.abandoned_seconds,
                server.max_waiting, outcome.samples,
            )  # fmt: skip
        store.dispose()
        return row


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--tokens-per-second", type=float, default=5.0)
    parser.add_argument("--tokens", type=int, default=20, help="tokens per answer")
    parser.add_argument("--old-requests", type=int, default=6, help="requests of the old way's row")
    args = parser.parse_args()
    tps, tokens = args.tokens_per_second, args.tokens
    answer_seconds = tokens / tps
    default = Timeouts()
    rows = [
        run_once("llama.cpp (/props): streamed", args.requests, tps, tokens, props=True, stream=True, timeouts=default),
        run_once("no /props: learned", args.requests, tps, tokens, props=False, stream=True, timeouts=default),
        # the old client: one total timeout of 60 s, scaled here to 3 answers' time so that the row is short
        run_once(
            "old: whole answers, 8 at once, total timeout", args.old_requests, tps, tokens, props=False, stream=False,
            timeouts=Timeouts(connect=10, idle=3 * answer_seconds),
        ),
    ]  # fmt: skip
    print(f"\n{args.requests} requests, one slot, {tps:g} tokens/s, {tokens} tokens per answer ({answer_seconds:g} s)")
    print(f"{'run':<46} {'req':>4} {'wall s':>8} {'CPU s':>6} {'busy s':>7} {'wall/busy':>9} {'timeouts':>8} "
          f"{'abandoned s':>11} {'max queued':>10} {'samples':>7}")  # fmt: skip
    for r in rows:
        print(f"{r.name:<46} {r.requests:>4} {r.wall:>8.1f} {r.cpu:>6.1f} {r.busy:>7.1f} {r.ratio:>9.3f} "
              f"{r.timeouts:>8} {r.abandoned:>11.1f} {r.max_waiting:>10} {r.samples:>7}")  # fmt: skip
    print("target: wall/busy <= 1.1, no timeout, no abandoned work (the first two rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
