"""A real local Ray cluster for the tests (no tests here): a head started with `ray start --head` and a second node
joined as a separate process, one CPU each and a small object store, as a team would start them.

The second node carries the custom resources `trainer` (standing in for a GPU) and `second` (to place a job on
it), so that a test can put a job there and then stop that machine. Stopping it kills its process group (the
raylet and what it started) the way a machine that loses power stops; `ray stop` would stop every Ray on this
machine.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RAY = str(Path(sys.executable).with_name("ray"))
SECOND_NODE_RESOURCES = '{"trainer": 1, "second": 1}'
OBJECT_STORE_BYTES = 80_000_000  # Ray's floor is 75 MiB
START_TIMEOUT = 120.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RayCluster:
    temp_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="rs-", dir="/tmp")))
    port: int = field(default_factory=_free_port)
    head: subprocess.Popen[bytes] | None = None
    second: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
        env["RAY_USAGE_STATS_ENABLED"] = "0"
        # a stopped node is declared dead within about two seconds, not the default half minute
        env["RAY_health_check_period_ms"] = "500"
        env["RAY_health_check_timeout_ms"] = "1000"
        env["RAY_health_check_failure_threshold"] = "4"
        return env

    def _start(self, arguments: list[str], log_name: str) -> subprocess.Popen[bytes]:
        log = open(self.temp_dir / log_name, "ab")  # noqa: SIM115 - the node's process holds it
        return subprocess.Popen(
            [RAY, "start", *arguments, "--block", "--disable-usage-stats"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self._env(),
            cwd=str(PROJECT_ROOT),
            start_new_session=True,
        )

    def start(self) -> RayCluster:
        self.head = self._start(
            [
                "--head",
                f"--port={self.port}",
                "--node-ip-address=127.0.0.1",
                "--num-cpus=1",
                "--num-gpus=0",
                f"--object-store-memory={OBJECT_STORE_BYTES}",
                "--include-dashboard=false",
                f"--temp-dir={self.temp_dir}",
            ],
            "head.log",
        )
        self._wait_for_nodes(1)
        self.start_second_node()
        return self

    def start_second_node(self) -> None:
        self.second = self._start(
            [
                f"--address={self.address}",
                "--node-ip-address=127.0.0.1",
                "--num-cpus=1",
                "--num-gpus=0",
                f"--resources={SECOND_NODE_RESOURCES}",
                f"--object-store-memory={OBJECT_STORE_BYTES}",
            ],
            "second.log",
        )
        self._wait_for_nodes(2)

    def stop_second_node(self) -> None:
        """The second machine stops at once: its raylet and everything in its process group are killed."""
        if self.second is None:
            return
        _kill_group(self.second)
        self.second = None

    def alive_nodes(self) -> int:
        result = subprocess.run(
            [sys.executable, "-c", _COUNT_NODES, self.address],
            capture_output=True,
            text=True,
            env=self._env(),
            timeout=60,
        )
        return int(result.stdout.strip().splitlines()[-1]) if result.returncode == 0 and result.stdout.strip() else 0

    def _wait_for_nodes(self, count: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            for process in (self.head, self.second):
                if process is not None and process.poll() is not None:
                    raise RuntimeError(f"a Ray node stopped while starting; see {self.temp_dir}")
            if self.alive_nodes() >= count:
                return
            time.sleep(1.0)
        raise RuntimeError(f"the Ray cluster did not reach {count} nodes in {START_TIMEOUT:.0f} s; see {self.temp_dir}")

    def stop(self) -> None:
        for process in (self.second, self.head):
            if process is not None:
                _kill_group(process, signal.SIGTERM)
        self.second = self.head = None
        _kill_leftovers(self.temp_dir)


_COUNT_NODES = """
import sys, ray
ray.init(address=sys.argv[1], logging_level="ERROR", log_to_driver=False)
print(sum(1 for n in ray.nodes() if n["Alive"]))
"""


def _kill_group(process: subprocess.Popen[bytes], first: signal.Signals = signal.SIGKILL) -> None:
    try:
        os.killpg(process.pid, first)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=20)


def _kill_leftovers(temp_dir: Path) -> None:
    """Ray's workers run in process groups of their own: end those that name this cluster's folder."""
    marker = str(temp_dir).encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if marker in (proc / "cmdline").read_bytes():
                os.kill(int(proc.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue
