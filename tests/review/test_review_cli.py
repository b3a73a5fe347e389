"""The review commands, on SQLite and PostgreSQL: `users add --languages`, `assign ... --json`, `--as USER queue`,
`--as USER judge`, `adjudicate` and `agreement --json`, whose fields `alpha`, `pairs` (with `kappa`),
`per_language` and `n_items` are a public contract, equal to krippendorff's and sklearn's figures."""

from __future__ import annotations

import io
import json
import sys

import krippendorff
import pytest
from sklearn.metrics import cohen_kappa_score

from core.cli import main
from core.store import Store
from tests.review.support import make_project, make_team


def run(capsys: pytest.CaptureFixture[str], *args: str, stdin: str = "") -> tuple[int, str, str]:
    sys.stdin = io.StringIO(stdin)
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def ok(capsys: pytest.CaptureFixture[str], *args: str, stdin: str = "") -> str:
    code, out, err = run(capsys, *args, stdin=stdin)
    assert (code, err) == (0, ""), err
    return out


@pytest.fixture(autouse=True)
def _keep_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", sys.stdin)


def test_the_review_commands_and_the_agreement_contract(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    team = make_team(store, {"anna": ["en", "sw"], "ben": ["en"]})
    make_project(team, {"en": 9, "sw": 3})
    out = ok(capsys, "--as", "olga", "users", "add", "cara", "--role", "annotator", "--languages", "sw,EN",
             stdin="a long enough password\n")  # fmt: skip
    assert out == "Added cara (cara) as annotator; judges sw, en.\n"
    assert ok(capsys, "--as", "olga", "users", "set-languages", "cara", "en") == "cara judges en now.\n"
    code, _, err = run(capsys, "--as", "olga", "users", "add", "dora", "--role", "annotator", "--languages", "zz")
    assert (code, err) == (1, "error: Unknown language code 'zz': use an ISO 639 code such as 'sw' (Swahili).\n")

    command = ["assign", "--project", "crops", "--language", "en", "--status", "pending"]
    command += ["--annotators", "anna,ben,cara", "--overlap", "2", "--json"]
    assigned = json.loads(ok(capsys, "--as", "olga", *command))
    assert (assigned["samples"], assigned["assignments"], assigned["overlap"]) == (9, 18, 2)
    assert set(assigned["per_annotator"]) == {"anna", "ben", "cara"}

    queues = {}
    label_of: dict[int, str] = {}
    for name in ("anna", "ben", "cara"):
        mine = json.loads(ok(capsys, "--as", name, "queue", "--project", "crops", "--json"))
        assert mine["open"] == len(mine["samples"]) == assigned["per_annotator"][name]
        assert set(mine["samples"][0]) == {"id", "text", "label", "language"}
        queues[name] = [sample["id"] for sample in mine["samples"]]
        label_of |= {sample["id"]: sample["label"] for sample in mine["samples"]}
    limited = json.loads(ok(capsys, "--as", "anna", "queue", "--project", "crops", "--limit", "2", "--json"))
    assert [s["id"] for s in limited["samples"]] == queues["anna"][:2]

    said: dict[int, dict[str, str]] = {}
    for name, queue in queues.items():
        for sample_id in queue:
            verdict = ["--reject"] if (sample_id + len(name)) % 4 == 0 else ["--accept"]
            out = ok(capsys, "--as", name, "judge", "--project", "crops", "--sample", str(sample_id), *verdict)
            assert out == f"Saved your judgement of sample #{sample_id}.\n"
            # a judgement's value: "rejected", or the label it gives (accepting gives the sample's own)
            said.setdefault(sample_id, {})[name] = "rejected" if verdict == ["--reject"] else label_of[sample_id]
    code, _, err = run(capsys, "--as", "anna", "judge", "--project", "crops", "--sample", str(queues["anna"][0]),
                       "--accept")  # fmt: skip
    assert code == 1 and "You have judged sample" in err
    code, _, err = run(capsys, "--as", "anna", "agreement", "--project", "crops")
    assert (code, err) == (
        1,
        "error: permission denied: reading the annotators' judgements and agreement needs the role lead or owner; "
        "anna is an annotator\n",
    )

    public = json.loads(ok(capsys, "--as", "lena", "agreement", "--project", "crops", "--json", "--resamples", "50"))
    assert {"alpha", "pairs", "per_language", "n_items"} <= set(public)
    names = ("anna", "ben", "cara")
    values = {value: code for code, value in enumerate(sorted({v for given in said.values() for v in given.values()}))}
    matrix = [[values[said[i][n]] if n in said[i] else float("nan") for i in sorted(said)] for n in names]
    expected_alpha = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    assert public["alpha"] == pytest.approx(expected_alpha, abs=1e-12)
    assert public["n_items"] == 9 and public["per_language"]["en"]["n_items"] == 9
    for pair in public["pairs"]:
        first, second = pair["annotators"]
        both = [i for i in sorted(said) if first in said[i] and second in said[i]]
        expected = cohen_kappa_score([said[i][first] for i in both], [said[i][second] for i in both])
        if pair["kappa"] is None:
            assert expected != expected or len(both) < 2  # nan: one value only
        else:
            assert pair["kappa"] == pytest.approx(expected, abs=1e-12)
    assert "Krippendorff's alpha" in ok(capsys, "--as", "lena", "agreement", "--project", "crops", "--resamples", "0")

    disputed = json.loads(ok(capsys, "--as", "lena", "adjudicate", "--project", "crops", "--json"))
    expected_disputes = sorted(i for i, given in said.items() if len(set(given.values())) > 1)
    assert sorted(item["sample_id"] for item in disputed) == expected_disputes  # oldest dispute first
    decided = ok(capsys, "--as", "lena", "adjudicate", "--project", "crops", "--sample", str(expected_disputes[0]),
                 "--reject")  # fmt: skip
    assert decided.startswith(f"Sample #{expected_disputes[0]} is rejected; 1 judgement overridden.")

    undone = ok(capsys, "--as", "cara", "judge", "--project", "crops", "--undo")
    assert undone.startswith("Undone: your judgement of sample #")
    code, _, err = run(capsys, "--as", "cara", "judge", "--project", "crops", "--accept")
    assert (code, err) == (1, "error: Say which sample with --sample ID.\n")


def test_rules_gold_and_rebalance_commands(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    team = make_team(store, {"anna": ["en"], "ben": ["en"]})
    make_project(team, {"en": 20}, origin="human")
    rules = ok(capsys, "--as", "lena", "review-rules", "--project", "crops", "--overlap", "1", "--rule", "majority")
    assert rules == "crops: 1 judgement per sample, decided by majority; gold checks off.\n"
    assert ok(capsys, "--as", "lena", "gold", "--project", "crops", "--mark", "19,20") == "Marked 2 samples as gold.\n"
    assert ok(capsys, "--as", "lena", "gold", "--project", "crops", "--on") == "Gold checks are on in crops.\n"
    assert json.loads(ok(capsys, "--as", "lena", "review-rules", "--project", "crops", "--json")) == {
        "overlap": 1,
        "rule": "majority",
        "gold": True,
    }
    out = ok(capsys, "--as", "lena", "assign", "--project", "crops", "--annotators", "anna")
    assert out.startswith("Handed out 18 samples to be judged 1 time each: anna 18.")
    moved = json.loads(ok(capsys, "--as", "lena", "rebalance", "--project", "crops", "--add", "ben", "--json"))
    assert moved["moved"] == 9 and moved["per_annotator"] == {"ben": 9}
    with pytest.raises(SystemExit) as refused:  # argparse refuses it before anything runs
        main(["--as", "lena", "assign", "--project", "crops", "--annotators", "anna", "--overlap", "9"])
    assert refused.value.code == 2
    assert "the overlap must be between 1 and 5" in capsys.readouterr().err
