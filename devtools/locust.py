"""Run the project's Locust profile headless, as `make loadtest` and the tests do."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from devtools.servers import BIN_DIR, PROJECT_DIR

LOCUSTFILE = PROJECT_DIR / "loadtests" / "locustfile.py"


def run_locust(
    host: str,
    users: int,
    seconds: int,
    *extra: str,
    env: dict[str, str] | None = None,
    locustfile: Path = LOCUSTFILE,
) -> subprocess.CompletedProcess[str]:
    """A headless Locust run of ``locustfile`` against ``host`` (loopback only)."""
    return subprocess.run(  # noqa: S603 - our own venv's locust, our arguments
        [
            str(BIN_DIR / "locust"),
            "-f",
            str(locustfile),
            "--headless",
            "--host",
            host,
            "--users",
            str(users),
            "--spawn-rate",
            str(users),
            "--run-time",
            f"{seconds}s",
            "--only-summary",
            *extra,
        ],
        cwd=PROJECT_DIR,
        env={**os.environ, "PYTHONPATH": str(PROJECT_DIR), **(env or {})},
        capture_output=True,
        text=True,
        timeout=seconds + 90,
        check=False,
    )
