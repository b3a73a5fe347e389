"""Generation throughput against a local OpenAI-compatible server with 200 ms latency per answer.

Target (issue 4): 500 requests at concurrency 32 finish within 1.25x the ideal (500 / 32 x 0.2 s = 3.1 s).
Each level sends its requests through `complete_with_retries` with one shared `OpenAIBackend`, at most
`concurrency` in flight (asyncio.Semaphore + asyncio.gather), as the engine does. The serial level sends only
`--requests-at-1` requests (500 would take 100 s); its ideal is scaled to match.

.venv/bin/python bench/bench_generation_concurrency.py [--requests 500] [--levels 1,8,32,64]
    [--requests-at-1 50] [--latency 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.generation.llm_backend import BackendError, ChatRequest, RetryPolicy, complete_with_retries
from core.generation.openai_backend import OpenAIBackend
from tests.openai_server import ScriptedOpenAIServer

TARGET_LEVEL = 32
TARGET_RATIO = 1.25


@dataclass(frozen=True)
class LevelResult:
    concurrency: int
    requests: int
    seconds: float
    ideal: float
    failed: int
    retries: int
    max_in_flight: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def ratio(self) -> float:
        return self.seconds / self.ideal


def request_number(index: int) -> ChatRequest:
    messages = [
        {"role": "system", "content": "You write short product reviews."},
        {"role": "user", "content": f"Write 10 positive reviews in German (batch {index})."},
    ]
    return ChatRequest(messages=messages, model="test-model", temperature=1.0, max_tokens=400, seed=index)


async def run_level(
    server: ScriptedOpenAIServer, backend: OpenAIBackend, concurrency: int, requests: int, latency: float
) -> LevelResult:
    semaphore = asyncio.Semaphore(concurrency)
    retries = 0

    def count_retry(attempt: int, error: BackendError, delay: float) -> None:
        nonlocal retries
        retries += 1

    async def one(index: int) -> bool:
        async with semaphore:
            try:
                await complete_with_retries(backend, request_number(index), RetryPolicy(), on_retry=count_retry)
            except BackendError:
                return False
            return True

    server.reset_stats()
    started = time.perf_counter()
    outcomes = await asyncio.gather(*(one(i) for i in range(requests)))
    seconds = time.perf_counter() - started
    ideal = requests / concurrency * latency  # as the issue states it (whole waves would be ceil(n / c) * latency)
    return LevelResult(
        concurrency, requests, seconds, ideal, outcomes.count(False), retries, server.max_concurrency_seen
    )


async def run_all(server: ScriptedOpenAIServer, levels: list[int], requests: int, at_one: int) -> list[LevelResult]:
    backend = OpenAIBackend(server.base_url, "bench-key", timeout=30.0, max_connections=max(100, *levels))
    async with backend:
        return [
            await run_level(server, backend, level, at_one if level == 1 else requests, server.latency)
            for level in levels
        ]


def print_table(results: list[LevelResult], latency: float) -> None:
    print(f"latency per answer: {latency:g} s")
    header = f"{'concurrency':>11} {'requests':>8} {'seconds':>8} {'requests/s':>10} {'ideal s':>8} {'ratio':>6}"
    print(header + f" {'max in flight':>13} {'failed':>6} {'retries':>7}")
    for r in results:
        print(
            f"{r.concurrency:>11} {r.requests:>8} {r.seconds:>8.2f} {r.per_second:>10.1f} {r.ideal:>8.2f} "
            f"{r.ratio:>6.2f} {r.max_in_flight:>13} {r.failed:>6} {r.retries:>7}"
        )
    for r in results:
        if r.concurrency == TARGET_LEVEL:
            verdict = "met" if r.ratio <= TARGET_RATIO else "MISSED"
            print(f"target: concurrency {TARGET_LEVEL} within {TARGET_RATIO}x of ideal -> {r.ratio:.2f}x, {verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=500, help="requests per level (default 500)")
    parser.add_argument("--levels", default="1,8,32,64", help="comma-separated concurrency levels")
    parser.add_argument("--requests-at-1", type=int, default=50, help="requests at concurrency 1 (default 50)")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds the server takes per answer")
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",") if level.strip()]
    with ScriptedOpenAIServer(latency=args.latency) as server:
        results = asyncio.run(run_all(server, levels, args.requests, args.requests_at_1))
    print_table(results, args.latency)
    missed = any(r.concurrency == TARGET_LEVEL and r.ratio > TARGET_RATIO for r in results)
    return 1 if missed or any(r.failed for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
