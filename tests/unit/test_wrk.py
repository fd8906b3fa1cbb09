"""Unit tests for the wrk helper's choice of path."""

from __future__ import annotations

from devtools.wrk import post_path


def test_a_bare_base_url_posts_to_classify() -> None:
    assert post_path("http://127.0.0.1:3000") == "/classify"
    assert post_path("http://127.0.0.1:3000/") == "/classify"


def test_a_url_with_a_path_posts_there() -> None:
    assert post_path("http://127.0.0.1:3000/v2/models/sentiment/infer") == (
        "/v2/models/sentiment/infer"
    )
    assert post_path("http://127.0.0.1:3000/classify") == "/classify"
