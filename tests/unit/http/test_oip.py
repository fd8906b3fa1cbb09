"""sentiment.http.oip: the V2 router's paths."""

from __future__ import annotations

from sentiment.http import oip


def test_model_paths() -> None:
    assert oip.MODEL_PATH.match("/v2/models/sentiment/infer").groups() == (
        "sentiment",
        None,
        "/infer",
    )
    assert oip.MODEL_PATH.match("/v2/models/sentiment/versions/abc/ready").groups() == (
        "sentiment",
        "abc",
        "/ready",
    )
    assert oip.MODEL_PATH.match("/v2/models/sentiment").groups() == (
        "sentiment",
        None,
        None,
    )
