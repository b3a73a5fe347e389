"""Generation throughput against a local OpenAI-compatible server with 200 ms latency per answer.

Target (issue 4): 500 requests at concurrency 32 finish within 1.25x the ideal (500 / 32 x 0.2 s = 3.1 s).
Each level sends its requests through `complete_with_retries` with one shared `OpenAIBackend`, at most
`concurrency` in flight (asyncio.Semaphore + asyncio.gather), as the engine does. The serial level sends only
`--requests-at-1` requests (500 would take 100 s); its ideal is scaled to match.

Answers stream (as runs ask for them); `--modes streamed,whole` also runs every level with whole answers, in the
same run, for the price of streaming. The test server runs in a process of its own, so the CPU seconds are the
client's alone.

.venv/bin/python bench/bench_generation_concurrency.py [--requests 500] [--levels 1,8,32,64]
    [--requests-at-1 50] [--latency 0.2] [--modes streamed,whole]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.generation.llm_backend import BackendError, ChatRequest, RetryPolicy, complete_with_retries
from core.generation.openai_backend import OpenAIBackend

TARGET_LEVEL = 32
TARGET_RATIO = 1.25


@dataclass(frozen=True)
class LevelResult:
    mode: str
    concurrency: int
    requests: int
    seconds: float
    ideal: float
    failed: int
    retries: int
    max_in_flight: int
    cpu: float

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


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class ServerProcess:
    """tests/openai_server.py in its own process (its CPU is not the client's)."""

    def __init__(self, latency: float) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        script = Path(__file__).resolve().parents[1] / "tests" / "openai_server.py"
        self.process = subprocess.Popen(
            [sys.executable, str(script), "--port", str(self.port), "--latency", str(latency)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.latency = latency
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the test server did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


async def run_level(
    server: ServerProcess, backend: OpenAIBackend, concurrency: int, requests: int, latency: float
) -> LevelResult:
    semaphore = asyncio.Semaphore(concurrency)
    retries = 0
    in_flight = most = 0

    def count_retry(attempt: int, error: BackendError, delay: float) -> None:
        nonlocal retries
        retries += 1

    async def one(index: int) -> bool:
        nonlocal in_flight, most
        async with semaphore:
            in_flight += 1
            most = max(most, in_flight)
            try:
                await complete_with_retries(backend, request_number(index), RetryPolicy(), on_retry=count_retry)
            except BackendError:
                return False
            finally:
                in_flight -= 1
            return True

    started, cpu = time.perf_counter(), cpu_seconds()
    outcomes = await asyncio.gather(*(one(i) for i in range(requests)))
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    ideal = requests / concurrency * latency  # as the issue states it (whole waves would be ceil(n / c) * latency)
    mode = "streamed" if backend.stream else "whole"
    return LevelResult(mode, concurrency, requests, seconds, ideal, outcomes.count(False), retries, most, cpu)


async def run_all(
    server: ServerProcess, levels: list[int], requests: int, at_one: int, modes: list[str]
) -> list[LevelResult]:
    results = []
    for level in levels:
        for mode in modes:
            backend = OpenAIBackend(
                server.base_url, "bench-key", timeout=30.0, max_connections=max(100, *levels), stream=mode == "streamed"
            )
            async with backend:
                results.append(
                    await run_level(server, backend, level, at_one if level == 1 else requests, server.latency)
                )
    return results


def print_table(results: list[LevelResult], latency: float) -> None:
    print(f"latency per answer: {latency:g} s")
    header = f"{'mode':>8} {'concurrency':>11} {'requests':>8} {'seconds':>8} {'CPU s':>6} {'requests/s':>10}"
    print(header + f" {'ideal s':>8} {'ratio':>6} {'max in flight':>13} {'failed':>6} {'retries':>7}")
    for r in results:
        print(
            f"{r.mode:>8} {r.concurrency:>11} {r.requests:>8} {r.seconds:>8.2f} {r.cpu:>6.2f} {r.per_second:>10.1f} "
            f"{r.ideal:>8.2f} {r.ratio:>6.2f} {r.max_in_flight:>13} {r.failed:>6} {r.retries:>7}"
        )
    for r in results:
        if r.concurrency == TARGET_LEVEL:
            verdict = "met" if r.ratio <= TARGET_RATIO else "MISSED"
            print(
                f"target ({r.mode}): concurrency {TARGET_LEVEL} within {TARGET_RATIO}x of ideal -> {r.ratio:.2f}x, "
                f"{verdict}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=500, help="requests per level (default 500)")
    parser.add_argument("--levels", default="1,8,32,64", help="comma-separated concurrency levels")
    parser.add_argument("--requests-at-1", type=int, default=50, help="requests at concurrency 1 (default 50)")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds the server takes per answer")
    parser.add_argument("--modes", default="streamed,whole", help="streamed and/or whole answers")
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",") if level.strip()]
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    server = ServerProcess(args.latency)
    try:
        results = asyncio.run(run_all(server, levels, args.requests, args.requests_at_1, modes))
    finally:
        server.stop()
    print_table(results, args.latency)
    missed = any(r.concurrency == TARGET_LEVEL and r.ratio > TARGET_RATIO for r in results)
    return 1 if missed or any(r.failed for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
