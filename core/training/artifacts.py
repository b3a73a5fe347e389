"""Run folders under the data folder: built in a hidden sibling and renamed into place, so a run folder is either
complete or absent (a killed job leaves at most a hidden build folder, removed once its process is gone).

    runs/project-<id>/run-<id>-<token>/
        run.json                 what the run was: trainer, parameters, snapshot summary, metrics, loss history
        snapshot.jsonl.gz        the samples it was trained on (text and label copied)     (single runs)
        model/                   the trained model (trainer.json says which trainer wrote it)
        points/n-00050/...       the same per learning-curve point                        (curve runs)
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.processes import process_exists
from core.settings import get_settings

RUN_FILE = "run.json"
MODEL_DIR = "model"
POINTS_DIR = "points"
_PARTIAL = re.compile(r"^\.(run-[\w-]+)\.partial-(\d+)-")
_STORED = (".safetensors", ".npz", ".npy", ".gz", ".bin")  # already compact: zipped without compression


def runs_root() -> Path:
    return get_settings().runs_dir


def project_folder(project_id: int) -> Path:
    """Where a project's trained runs live (one folder per run)."""
    return runs_root() / f"project-{project_id}"


def new_folder_name(project_id: int, run_id: int) -> str:
    """A run folder's path relative to the runs folder (a token keeps a recycled run id from meeting an old one)."""
    return f"project-{project_id}/run-{run_id}-{secrets.token_hex(3)}"


def absolute(relative: str) -> Path:
    return runs_root() / relative


def point_folder(run_folder: Path, size: int) -> Path:
    return run_folder / POINTS_DIR / f"n-{size:05d}"


def builder_alive(pid: int) -> bool:
    """The process that made a build folder still runs (a killed worker can linger as a zombie: that is dead)."""
    if not process_exists(pid):
        return False
    with contextlib.suppress(OSError, IndexError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    return True


def remove_stale_partials(parent: Path) -> list[Path]:
    """Delete hidden build folders whose process has died (a killed or crashed training job)."""
    removed: list[Path] = []
    if not parent.is_dir():
        return removed
    for entry in parent.iterdir():
        match = _PARTIAL.match(entry.name)
        if match and entry.is_dir() and not builder_alive(int(match.group(2))):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


@contextlib.contextmanager
def building(final: Path) -> Iterator[Path]:
    """A hidden work folder beside `final`; renamed to `final` when the block ends without an error."""
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(final.parent)
    if final.exists():
        raise FileExistsError(f"{final} already exists")
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-{os.getpid()}-", dir=final.parent))
    try:
        yield work
        work.chmod(0o755)
        os.rename(work, final)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


def remove_folder(folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)


def write_run_file(folder: Path, content: dict[str, Any]) -> None:
    text = json.dumps(content, indent=2, ensure_ascii=False, default=str)
    (folder / RUN_FILE).write_text(text + "\n", encoding="utf-8")


def read_run_file(folder: Path) -> dict[str, Any]:
    return json.loads((folder / RUN_FILE).read_text(encoding="utf-8"))


def _derived(relative: Path) -> bool:
    """A fine-tuned model's ONNX export (made again from the model where it is used) and what making it left."""
    parts = relative.parts
    return any(p == "onnx" or p.startswith(".onnx-tmp-") for p in parts[:-1]) or parts[-1] == "onnx.unsupported.txt"


def zip_folder(folder: Path, out: Path, root_name: str) -> Path:
    """`folder` zipped as `out` (written beside it under a hidden name, then renamed), its files under `root_name/`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    try:
        with zipfile.ZipFile(partial, "w", allowZip64=True) as archive:
            for file in sorted(f for f in folder.rglob("*") if f.is_file() and not _derived(f.relative_to(folder))):
                method = zipfile.ZIP_STORED if file.suffix in _STORED else zipfile.ZIP_DEFLATED
                archive.write(file, f"{root_name}/{file.relative_to(folder).as_posix()}", compress_type=method)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return out
