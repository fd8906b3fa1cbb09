"""Unit tests for sentiment.http.roles: which routes each SENTIMENT_ROLE serves."""

from __future__ import annotations

import json

import pytest

from sentiment.config import Settings
from tests.asgi import FakeApp, admission_for, request

JOB_ROUTES = ["/classify_file", "/classify_file/submit", "/classify_file/status"]
ONLINE_ROUTES = ["/classify", "/explain", "/v2/models/sentiment/infer"]
EVERY_ROLE = ["/readyz", "/metrics", "/ui", "/model-info", "/v2/health/ready"]


def answer(role: str, path: str, **urls: str) -> tuple[int, dict]:
    edge = admission_for(FakeApp(), Settings(role=role, **urls))  # type: ignore[arg-type]
    method = "POST" if path in ONLINE_ROUTES else "GET"  # uploads are tested apart
    exchange = request(edge, path=path, method=method)
    body = json.loads(exchange.body) if exchange.status != 200 else {}
    return exchange.status, body


@pytest.mark.parametrize("path", JOB_ROUTES + ONLINE_ROUTES + EVERY_ROLE)
def test_all_serves_every_route(path: str) -> None:
    assert answer("all", path)[0] == 200


@pytest.mark.parametrize("path", JOB_ROUTES)
def test_online_refuses_jobs_naming_the_jobs_endpoint(path: str) -> None:
    status, body = answer("online", path, jobs_url="http://jobs.example")
    assert status == 421
    assert body["detail"][0]["type"] == "wrong_role"
    assert "jobs deployment at http://jobs.example" in body["detail"][0]["msg"]


@pytest.mark.parametrize("path", ONLINE_ROUTES)
def test_jobs_refuses_online_routes_naming_the_online_endpoint(path: str) -> None:
    status, body = answer("jobs", path, online_url="http://online.example")
    assert status == 421
    assert (
        "to the online deployment at http://online.example" in body["detail"][0]["msg"]
    )


@pytest.mark.parametrize("role", ["online", "jobs"])
@pytest.mark.parametrize("path", EVERY_ROLE)
def test_probes_scrapes_and_the_page_answer_in_every_role(role: str, path: str) -> None:
    assert answer(role, path)[0] == 200


@pytest.mark.parametrize(
    ("role", "path"), [("online", "/classify"), ("jobs", "/classify_file/get")]
)
def test_each_role_serves_its_own_routes(role: str, path: str) -> None:
    assert answer(role, path)[0] == 200


def test_the_role_defaults_to_all_and_rejects_unknown_values() -> None:
    assert Settings().role == "all"
    with pytest.raises(ValueError, match="role"):
        Settings(role="batch")  # type: ignore[arg-type]
