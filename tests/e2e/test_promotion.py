"""The promotion gate on real models: refuse worse and slower, accept equal, roll back.

Models are trained under their own name (``gate-sentiment``) so the session's
``sentiment`` model, which the other end-to-end tests serve, is untouched.
Each gate run starts a real ``bentoml serve`` for its infrastructure check.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import train
from ops import gate, promote
from sentiment.lifecycle import registry

pytestmark = pytest.mark.e2e

NAME = "gate-sentiment"


def train_candidate(tmp: Path, *args: str) -> str:
    import bentoml

    metrics = tmp / "metrics.json"
    code = train.main(["--model-name", NAME, "--metrics-out", str(metrics), *args])
    assert code == 0
    return str(bentoml.models.get(f"{NAME}:latest").tag)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """accurate twice (the same configuration), fast and ngrams; 3-fold CV each."""
    tmp = tmp_path_factory.mktemp("gate")
    return {
        "ngrams": train_candidate(tmp, "--preset", "ngrams", "--cv", "3"),
        "fast": train_candidate(tmp, "--preset", "fast", "--cv", "3"),
        "accurate": train_candidate(tmp, "--preset", "accurate", "--cv", "3"),
        "accurate_again": train_candidate(tmp, "--preset", "accurate", "--cv", "3"),
    }


def run_promote(tmp_path: Path, *args: str) -> tuple[int, dict[str, object] | None]:
    reports = tmp_path / "reports"
    code = promote.main(["--model-name", NAME, "--reports", str(reports), *args])
    saved = sorted(reports.glob("*.json"))
    return code, json.loads(saved[-1].read_text()) if saved else None


def failed_checks(report: dict[str, object] | None) -> list[str]:
    assert report is not None
    return [c["name"] for c in report["checks"] if not c["passed"]]  # type: ignore[index, union-attr]


def test_the_gate_refuses_worse_and_slower_accepts_equal_and_rolls_back(
    models: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The first model trained on an empty store is production: it was serving.
    assert registry.production_tag(NAME) == models["ngrams"]
    assert registry.audit_log(NAME)[0]["action"] == "adopt"
    # With no pointer (a store from before adoption) a promotion checks the
    # candidate alone.
    registry.pointer_path(NAME).unlink()
    code, report = run_promote(tmp_path / "1", "--tag", models["ngrams"])
    assert code == 0 and failed_checks(report) == []
    assert registry.production_tag(NAME) == models["ngrams"]

    # accurate is 2-3x slower than ngrams in process: refused on speed.
    code, report = run_promote(tmp_path / "2", "--tag", models["accurate"])
    out = capsys.readouterr().out
    assert code == 1 and "speed" in failed_checks(report)
    assert f"refused {models['accurate']}" in out
    assert registry.production_tag(NAME) == models["ngrams"]

    # With accurate in production (set by hand), fast is worse: refused, on
    # accuracy and on behaviour (it reads "not bad at all" as negative).
    registry.set_production(NAME, models["accurate"], "promote")
    code, report = run_promote(tmp_path / "3", "--tag", models["fast"])
    assert code == 1 and "cross-validation" in failed_checks(report)
    assert "behaviour" in failed_checks(report)
    assert registry.production_tag(NAME) == models["accurate"]

    # The same configuration retrained is equal: accepted, audited with its report.
    code, report = run_promote(tmp_path / "4", "--tag", models["accurate_again"])
    out = capsys.readouterr().out
    assert code == 0 and failed_checks(report) == []
    assert "accuracy (McNemar)" in out and "speed" in out and "pass" in out
    assert "behaviour" in out
    assert registry.production_tag(NAME) == models["accurate_again"]
    last = registry.audit_log(NAME)[-1]
    assert last["to"] == models["accurate_again"] and last["from"] == models["accurate"]
    assert last["report_sha256"] == gate.report_sha256(report)  # type: ignore[arg-type]

    # Rollback makes the previous production model current again.
    assert promote.main(["--model-name", NAME, "--rollback"]) == 0
    assert registry.production_tag(NAME) == models["accurate"]
    assert registry.audit_log(NAME)[-1]["action"] == "rollback"


def test_an_unknown_tag_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert promote.main(["--model-name", NAME, "--tag", f"{NAME}:nosuchversion"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no model" in err


def test_rollback_with_no_history_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert promote.main(["--model-name", "never-promoted", "--rollback"]) == 1
    assert "nothing to roll back to" in capsys.readouterr().err
