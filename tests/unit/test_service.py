"""Unit tests for the service's validation rules, settings and output shaping."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

import service

REVIEWS = TypeAdapter(service.Reviews)


def first_error(value: object) -> dict:
    with pytest.raises(ValidationError) as info:
        REVIEWS.validate_python(value)
    return info.value.errors()[0]


@pytest.mark.parametrize(
    ("texts", "rule", "loc", "words"),
    [
        ([], "too_short", (), "at least 1 item"),
        (["fine film"] * (service.SETTINGS.max_texts + 1), "too_long", (), "at most"),
        (["abc"], "review_too_short", (0,), "at least 4 characters"),
        (["good movie", "   ab   "], "review_too_short", (1,), "at least 4 characters"),
        (["\t\n  \n"], "review_too_short", (0,), "at least 4 characters"),
        ([""], "review_too_short", (0,), "at least 4 characters"),
        (["x" * 5001], "review_too_long", (0,), "at most 5000 characters"),
        (["123458303"], "review_is_number", (0,), "cannot be a number"),
        (["  -42  "], "review_is_number", (0,), "cannot be a number"),
        (["+1000"], "review_is_number", (0,), "cannot be a number"),
        (["good film", 1234], "string_type", (1,), "valid string"),
        ([None], "string_type", (0,), "valid string"),
        ([["nested list"]], "string_type", (0,), "valid string"),
        ([{"text": "dict"}], "string_type", (0,), "valid string"),
        ("a single string", "list_type", (), "valid list"),
        (None, "list_type", (), "valid list"),
    ],
)
def test_bad_reviews_are_rejected_naming_rule_and_item(
    texts: object, rule: str, loc: tuple, words: str
) -> None:
    error = first_error(texts)
    assert error["type"] == rule
    assert tuple(error["loc"]) == loc
    assert words in error["msg"]


@pytest.mark.parametrize(
    "text",
    [
        "good",
        "x" * 5000,
        "1984 is a great film",
        "10/10",
        "3.5 stars",
        "  padded but fine  ",
        "très bien, magnifique 🎬",
        "فيلم رائع",
    ],
)
def test_good_reviews_pass_stripped(text: str) -> None:
    assert REVIEWS.validate_python([text]) == [text.strip()]


def test_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "SENTIMENT_MODEL_TAG",
        "SENTIMENT_WORKERS",
        "SENTIMENT_MAX_BATCH_SIZE",
        "SENTIMENT_MAX_LATENCY_MS",
        "SENTIMENT_MAX_TEXTS",
    ):
        monkeypatch.delenv(name, raising=False)
    assert service.Settings.from_env() == service.Settings()
    assert service.Settings().model_tag == "sentiment:latest"


def test_settings_read_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIMENT_MODEL_TAG", "sentiment:v1")
    monkeypatch.setenv("SENTIMENT_WORKERS", "3")
    monkeypatch.setenv("SENTIMENT_MAX_BATCH_SIZE", "64")
    monkeypatch.setenv("SENTIMENT_MAX_LATENCY_MS", " 250 ")
    monkeypatch.setenv("SENTIMENT_MAX_TEXTS", "10")
    settings = service.Settings.from_env()
    assert (settings.model_tag, settings.workers, settings.max_batch_size) == (
        "sentiment:v1",
        3,
        64,
    )
    assert (settings.max_latency_ms, settings.max_texts) == (250, 10)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0", False), ("off", False), ("No", False), ("1", True), ("true", True)],
)
def test_flags_read_from_env(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool
) -> None:
    monkeypatch.setenv("SENTIMENT_BATCHING", raw)
    monkeypatch.setenv("SENTIMENT_TRACING", raw)
    settings = service.Settings.from_env()
    assert settings.batching is expected and settings.tracing is expected


def test_bad_flag_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIMENT_ACCESS_LOG", "maybe")
    with pytest.raises(ValueError, match="SENTIMENT_ACCESS_LOG must be"):
        service.Settings.from_env()


def run_recycler(every: int, requests: int) -> list[list[tuple[bytes, bytes]]]:
    """Headers each of ``requests`` responses went out with."""
    import asyncio

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    recycler = service.ConnectionRecycler(app, every=every)
    sent: list[list[tuple[bytes, bytes]]] = []

    async def send(message):
        if message["type"] == "http.response.start":
            sent.append(message["headers"])

    async def drive():
        for _ in range(requests):
            await recycler({"type": "http"}, None, send)

    asyncio.run(drive())
    return sent


def test_recycler_closes_every_nth_connection() -> None:
    sent = run_recycler(every=3, requests=7)
    closing = [
        i for i, headers in enumerate(sent) if (b"connection", b"close") in headers
    ]
    assert closing == [2, 5]


def test_recycler_off_with_zero() -> None:
    assert all(headers == [] for headers in run_recycler(every=0, requests=5))


@pytest.mark.parametrize(
    ("value", "message"), [("two", "must be an integer"), ("0", "must be >= 1")]
)
def test_settings_reject_bad_numbers(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("SENTIMENT_WORKERS", value)
    with pytest.raises(ValueError, match=f"SENTIMENT_WORKERS {message}"):
        service.Settings.from_env()


def test_to_predictions_picks_best_label_in_row_order() -> None:
    probabilities = np.array([[0.1, 0.9], [0.7, 0.3], [0.5, 0.5]])
    predictions = service.to_predictions(probabilities, ["negative", "positive"])
    assert [p["label"] for p in predictions] == ["positive", "negative", "negative"]
    assert [p["score"] for p in predictions] == [0.9, 0.7, 0.5]
    assert predictions[1]["probabilities"] == {"negative": 0.7, "positive": 0.3}
    for prediction in predictions:
        service.Prediction.model_validate(prediction)


def test_to_predictions_empty_batch() -> None:
    assert service.to_predictions(np.empty((0, 2)), ["negative", "positive"]) == []


def test_predict_uses_pipeline_without_preprocessing() -> None:
    from sklearn.dummy import DummyClassifier

    dummy = DummyClassifier(strategy="prior").fit(
        [[0]] * 4, ["positive", "positive", "positive", "negative"]
    )

    class FakePipeline:
        classes_ = dummy.classes_
        seen: list[list[str]] = []

        def predict_proba(self, texts: list[str]) -> np.ndarray:
            self.seen.append(texts)
            return dummy.predict_proba([[0]] * len(texts))

    instance = object.__new__(service.SentimentClassifier.inner)
    instance.pipeline = FakePipeline()
    instance.classes = list(dummy.classes_)
    out = instance.predict(["  raw text ", "another"])
    assert FakePipeline.seen == [["  raw text ", "another"]]
    assert [p["label"] for p in out] == ["positive", "positive"]
    assert out[0]["score"] == 0.75
    assert instance.predict([]) == [] and len(FakePipeline.seen) == 1


class FakeStoredModel:
    """Just enough of a BentoML stored model for check_artifact."""

    def __init__(self, directory, metadata: dict) -> None:
        self.directory = directory
        self.tag = "sentiment:test"
        self.info = type("Info", (), {"metadata": metadata})()

    def path_of(self, name: str) -> str:
        return str(self.directory / name)


def test_check_artifact_accepts_a_matching_file(tmp_path) -> None:
    import sklearn

    (tmp_path / service.MODEL_FILE).write_bytes(b"model bytes")
    metadata = {
        "versions": {"scikit-learn": sklearn.__version__},
        "artifact_sha256": service.sha256_of(tmp_path / service.MODEL_FILE),
    }
    service.check_artifact(FakeStoredModel(tmp_path, metadata))


@pytest.mark.parametrize(
    ("write", "metadata", "message"),
    [
        (False, {}, "pipeline.joblib is missing"),
        (True, {"artifact_sha256": "0" * 64}, "is corrupt"),
        (
            True,
            {"versions": {"scikit-learn": "0.1.0"}},
            "trained with scikit-learn 0.1.0",
        ),
    ],
)
def test_check_artifact_refuses_bad_models(
    tmp_path, write: bool, metadata: dict, message: str
) -> None:
    from bentoml.exceptions import BentoMLException

    if write:
        (tmp_path / service.MODEL_FILE).write_bytes(b"model bytes")
    with pytest.raises(BentoMLException, match=message) as info:
        service.check_artifact(FakeStoredModel(tmp_path, metadata))
    assert "make train" in str(info.value)
