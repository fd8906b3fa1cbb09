"""Run wrk with ``post.lua`` against ``POST /classify`` and read its result."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

POST_LUA = Path(__file__).resolve().parent / "post.lua"


class WrkMissing(RuntimeError):
    """wrk is not installed."""


def write_bodies(reviews: list[str], texts_per_request: int, path: Path) -> Path:
    """One JSON body per line, each with ``texts_per_request`` different reviews."""
    count = max(200, 20_000 // texts_per_request)
    with path.open("w") as handle:
        for i in range(count):
            start = (i * texts_per_request) % (len(reviews) - texts_per_request)
            texts = reviews[start : start + texts_per_request]
            handle.write(json.dumps({"texts": texts}) + "\n")
    return path


def post_path(url: str) -> str:
    """The path wrk posts to: the URL's, or ``/classify`` for a bare base URL."""
    path = urlsplit(url).path
    return path if path not in ("", "/") else "/classify"


def run_wrk(
    url: str,
    bodies: Path,
    connections: int,
    duration: float,
    timeout_s: int = 10,
    headers: dict[str, str] | None = None,
    stamp: bool = False,
) -> dict[str, Any]:
    """One wrk run, one thread; returns post.lua's ``RESULT`` line, parsed.

    ``headers`` are sent with every request (e.g. a tenant's Authorization).
    ``stamp``: each request's ``X-Request-ID`` is its send time, which the
    server echoes, so the 200s' latency is measured apart from the refusals'.

    Raises:
        WrkMissing: wrk is not on PATH.
        RuntimeError: wrk printed no result.
    """
    wrk = shutil.which("wrk")
    if wrk is None:
        raise WrkMissing("wrk is not installed (Debian: apt-get install wrk)")
    command = [
        wrk,
        "-t1",
        f"-c{connections}",
        f"-d{round(duration)}s",
        "--timeout",
        f"{timeout_s}s",
        "-s",
        str(POST_LUA),
        url,
    ]
    result = subprocess.run(  # noqa: S603 - a fixed program and our own arguments
        command,
        capture_output=True,
        text=True,
        timeout=duration + 60,
        env={
            **os.environ,
            "WRK_BODIES": str(bodies),
            "WRK_PATH": post_path(url),
            "WRK_HEADERS": "\n".join(f"{k}: {v}" for k, v in (headers or {}).items()),
            "WRK_STAMP": "1" if stamp else "0",
        },
        check=False,
    )
    for line in reversed(result.stdout.splitlines()):
        if line.startswith("RESULT "):
            parsed: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
            parsed["statuses"] = {int(k): v for k, v in parsed["statuses"].items()}
            return parsed
    raise RuntimeError(f"wrk printed no RESULT line:\n{result.stdout}\n{result.stderr}")


def summarise(raw: dict[str, Any], texts_per_request: int) -> dict[str, Any]:
    """req/s, reviews/s, latency and error counts from one wrk result."""
    seconds = raw["duration_us"] / 1e6
    statuses: dict[int, int] = raw["statuses"]
    ok = statuses.get(200, 0)
    by_status = {
        f"{name}_ms": round(raw[f"{name}_us"] / 1000, 1)
        for name in ("ok_p50", "ok_p99", "ok_max", "other_p99")
        if raw.get(f"{name}_us", -1) >= 0
    }
    return {
        "req_per_s": round(ok / seconds, 1),
        "reviews_per_s": round(ok * texts_per_request / seconds, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 1),
        "p99_ms": round(raw["p99_us"] / 1000, 1),
        "max_ms": round(raw["max_us"] / 1000, 1),
        "statuses": statuses,
        "errors_5xx": sum(v for k, v in statuses.items() if k >= 500),
        "errors_non_200": sum(v for k, v in statuses.items() if k != 200),
        "socket_errors": sum(raw["socket_errors"].values()),
        **by_status,
    }
