"""Shadow scoring in a real server: compared, counted, logged, reported."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import train
from devtools.servers import bentoml_serve
from ops import shadow_report

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def shadow_tag(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A different model to shadow with: the fast preset."""
    import bentoml

    out = tmp_path_factory.mktemp("shadow") / "m.json"
    args = ["--model-name", "shadow-sentiment", "--preset", "fast", "--cv", "0"]
    assert train.main([*args, "--metrics-out", str(out)]) == 0
    return str(bentoml.models.get("shadow-sentiment:latest").tag)


def test_shadow_scores_live_traffic_and_the_report_shows_it(
    trained_model: str,
    shadow_tag: str,
    tmp_path: Path,
    clear_reviews: list[tuple[str, str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs = tmp_path / "logs"
    env = {
        "SENTIMENT_MODEL_TAG": trained_model,
        "SENTIMENT_SHADOW_TAG": shadow_tag,
        "SENTIMENT_PREDICTION_LOG": str(logs / "predictions.jsonl"),
        "SENTIMENT_LOG_TEXT": "1",
        "SENTIMENT_SHADOW_SAMPLE": "1",  # every batch, so the counts are exact
    }
    texts = [text for text, _ in clear_reviews] + ["not bad at all", "not good"]
    with bentoml_serve(
        "service:SentimentClassifier", tmp_path / "serve.log", env
    ) as url:
        for _ in range(5):
            answer = httpx.post(f"{url}/classify", json={"texts": texts}, timeout=10)
            assert answer.status_code == 200
            assert answer.headers["x-model-version"] == trained_model
        metrics = httpx.get(f"{url}/metrics", timeout=10).text

    assert "sentiment_shadow_reviews_total" in metrics
    assert "sentiment_shadow_score_bucket" in metrics
    code = shadow_report.main([str(logs / "predictions.w*.jsonl"), "--show", "3"])
    out = capsys.readouterr().out
    assert code == 0
    assert f"shadow-scored reviews: {5 * len(texts)}" in out
    assert f"live {trained_model} / shadow {shadow_tag}" in out
    assert "agreement:" in out


def test_the_report_without_shadow_lines_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "p.jsonl").write_text('{"label": "positive", "score": 0.9}\n')
    assert shadow_report.main([str(tmp_path / "p.jsonl")]) == 2
    assert "no shadow lines" in capsys.readouterr().err
