"""The CLI contract of training: train, runs, predict (in-process, and once as a real process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from core.cli import main
from core.store import Store
from core.training.run_store import list_runs
from tests.training_support import make_project, single_torch_thread

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    with single_torch_thread():
        yield


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def project(store: Store, tiny_encoder: Path) -> str:
    return make_project(store, tiny_encoder).name


def test_train_runs_predict_and_delete(
    capsys: pytest.CaptureFixture[str], project: str, tmp_path: Path, store: Store
) -> None:
    code, out, err = cli(
        capsys, "train", "--project", project, "--trainer", "hybrid", "--origin", "synthetic",
        "--include-pending", "--per-language", "12", "--name", "small",
    )  # fmt: skip
    assert code == 0, err
    assert "Run 'small' done: Trained on 24 samples" in out
    assert "en: macro-F1" in out and "sw: macro-F1" in out

    code, out, err = cli(
        capsys, "train", "--project", project, "--trainer", "linear", "--curve", "2,4", "--name", "curve", "--json"
    )
    assert code == 0, err
    shown = json.loads(out)
    assert (shown["mode"], [p["size"] for p in shown["curve"]]) == ("curve", [2, 4])
    assert shown["status"] == "done" and shown["metrics"]["test"]["mean_macro_f1"] is not None

    code, out, _ = cli(capsys, "runs", "--project", project)
    assert code == 0 and out.splitlines()[0].split()[:3] == ["name", "trainer", "status"]
    assert "small" in out and "linear (curve)" in out
    listed = json.loads(cli(capsys, "runs", "--project", project, "--json")[1])
    assert [r["name"] for r in listed] == ["curve", "small"]
    assert all(r["status"] == "done" and Path(r["folder"]).is_dir() for r in listed)

    source = tmp_path / "new.jsonl"
    pd.DataFrame({"text": ["rain tomorrow", "maize prices", ""]}).to_json(source, orient="records", lines=True)
    code, out, err = cli(capsys, "predict", "--project", project, "--run", "small", str(source))
    assert code == 0, err
    assert f"Labelled 2 of 3 rows with run 'small' -> {tmp_path / 'new.predictions.jsonl'}" in out
    assert "1 rows with an empty text" in out
    written = pd.read_json(tmp_path / "new.predictions.jsonl", lines=True)
    assert {"predicted_label", "confidence"} <= set(written.columns) and len(written) == 3

    code, out, _ = cli(capsys, "predict", "--project", project, "--run", "curve", str(source), "--out",
                       str(tmp_path / "p.csv"), "--point", "2", "--json")  # fmt: skip
    assert code == 0 and json.loads(out)["labelled"] == 2

    code, out, _ = cli(capsys, "runs", "delete", "small")
    assert code == 0 and "Deleted run 'small'" in out
    assert [r["name"] for r in json.loads(cli(capsys, "runs", "--project", project, "--json")[1])] == ["curve"]


def test_errors_are_one_readable_line(capsys: pytest.CaptureFixture[str], project: str, tmp_path: Path) -> None:
    code, _, err = cli(capsys, "train", "--project", project, "--trainer", "linear", "--name", "x",
                       "--languages", "de")  # fmt: skip
    assert code == 1 and "The project has no language de" in one_error_line(err)
    code, _, err = cli(capsys, "train", "--project", project, "--trainer", "linear", "--name", "x",
                       "--param", "epochs=3")  # fmt: skip
    assert code == 1 and "no parameter epochs" in one_error_line(err)
    code, _, err = cli(capsys, "predict", "--project", project, "--run", "ghost", str(tmp_path / "none.csv"))
    assert code == 1 and "There is no file" in one_error_line(err)
    (tmp_path / "t.csv").write_text("text\nhello\n")
    code, _, err = cli(capsys, "predict", "--project", project, "--run", "ghost", str(tmp_path / "t.csv"))
    assert code == 1 and "no training run called 'ghost'" in one_error_line(err)
    code, _, err = cli(capsys, "runs", "delete", "ghost")
    assert code == 1 and "no training run called 'ghost'" in one_error_line(err)
    code, _, err = cli(capsys, "runs")
    assert code == 1 and "Name the project" in one_error_line(err)
    with pytest.raises(SystemExit):  # argparse: --per-language and --curve exclude each other
        main(["train", "--project", project, "--trainer", "linear", "--name", "x", "--per-language", "3",
              "--curve", "3"])  # fmt: skip
    capsys.readouterr()


def test_train_as_a_real_process(tmp_path: Path, tiny_encoder: Path) -> None:
    home = tmp_path / "cli-home"
    store = Store(f"sqlite:///{home / 'studio.db'}", "cli-user")
    make_project(store, tiny_encoder, name="P")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update({"STUDIO_HOME": str(home), "STUDIO_USER": "cli-user", "STUDIO_DEMO": "0", "OMP_NUM_THREADS": "1"})
    # character n-grams only: no torch to import, so the process starts fast
    args = ["train", "--project", "P", "--trainer", "hybrid", "--name", "proc", "--param", "embedding_weight=0"]
    trained = subprocess.run(
        [sys.executable, "-m", "core", *args, "--json"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert trained.returncode == 0, trained.stderr
    shown = json.loads(trained.stdout)  # --json: nothing but the run on stdout
    assert (shown["name"], shown["status"], shown["created_by"]) == ("proc", "done", "cli-user")
    [run] = list_runs(store, shown["project_id"])
    assert run.status == "done" and run.job_id == shown["job_id"]
    folder = Path(shown["folder"])
    assert folder.is_relative_to(home / "runs") and (folder / "model" / "trainer.json").exists()
    store.dispose()
