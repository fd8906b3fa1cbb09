"""Load-test the image we ship: `make loadtest-container`.

Builds the image when it is missing or older than the code (or the model), runs it
with the limits and environment that ``deploy/kubernetes.yaml`` gives a pod, waits
for ``/readyz``, runs the project's Locust profile with its thresholds, records the
container's peak memory, and removes the container whatever happens.

Usage: ``python -m devtools.loadtest_container [--users 64] [--run-time 60]
[--image sentiment-classifier:latest] [--reports loadtests/reports/container]``.
Exit code: Locust's (1 when a threshold broke), or 1 when peak memory passed
``--memory-margin`` of the manifest's limit.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

from devtools.container import (
    docker,
    image_created,
    image_size_mb,
    newest_source_time,
    pod_spec,
    run_image,
)
from devtools.locust import locust_totals, run_locust
from devtools.servers import BIN_DIR, PROJECT_DIR

IMAGE = "sentiment-classifier:latest"
REPORTS = PROJECT_DIR / "loadtests" / "reports" / "container"


def model_created(tag: str = "sentiment:latest") -> float:
    """When the store's model was made (epoch seconds), 0 when there is none."""
    import bentoml

    try:
        return bentoml.models.get(tag).info.creation_time.timestamp()
    except bentoml.exceptions.NotFound:
        return 0.0


def ensure_image(image: str) -> None:
    """Build the image with scripts/container.sh if missing or stale."""
    built = image_created(image)
    newest = max(newest_source_time(), model_created())
    if built is not None and built >= newest:
        print(f"loadtest-container: {image} is up to date", flush=True)
        return
    reason = "missing" if built is None else "older than the code or the model"
    print(f"loadtest-container: {image} is {reason}: building it", flush=True)
    name = image.split(":")[0]
    subprocess.run(  # noqa: S603 - our own build script
        [str(PROJECT_DIR / "scripts" / "container.sh")],
        env={**os.environ, "IMAGE_NAME": name, "BIN": str(BIN_DIR)},
        check=True,
    )


def load_test_image(
    image: str, users: int, seconds: int, reports: Path, memory_margin: float
) -> tuple[int, dict[str, Any]]:
    """Run the image as a pod would, put Locust on it; exit code and summary."""
    spec = pod_spec()
    reports.mkdir(parents=True, exist_ok=True)
    prefix = reports / "classify"
    key = secrets.token_hex(16)  # what the pod's Secret would hold
    with run_image(image, spec, secrets={"API_KEY": key}) as container:
        result = run_locust(
            container.url,
            users,
            seconds,
            "--stop-timeout",
            "10",
            "--csv",
            str(prefix),
            "--html",
            str(reports / "classify.html"),
            env={"LOCUST_API_KEY": key},
        )
        peak = container.sample_memory()
        cold_start = container.ready_after_s
    summary = {
        "image": image,
        "image_id": docker("image", "inspect", "-f", "{{.Id}}", image)[:19],
        "image_mb": image_size_mb(image),
        "cold_start_s": cold_start,
        "limits": {"cpus": spec.cpus, "memory_bytes": spec.memory_limit},
        "env": spec.env,
        "users": users,
        "seconds": seconds,
        **locust_totals(prefix),
        "peak_memory_bytes": peak,
        "peak_memory_share_of_limit": round(peak / spec.memory_limit, 3),
        "locust_passed": result.returncode == 0,
        "locust_exit_code": result.returncode,
    }
    if result.returncode != 0:
        summary["locust_output_tail"] = (result.stdout + result.stderr)[-2000:]
    (reports / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    code = result.returncode
    if peak > memory_margin * spec.memory_limit:
        print(
            f"loadtest-container: peak memory {peak / 2**20:.0f} MiB is over "
            f"{memory_margin:.0%} of the {spec.memory_limit / 2**20:.0f} MiB limit"
        )
        code = code or 1
    return code, summary


def main(argv: list[str] | None = None) -> int:
    """Build if needed, run, load, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=IMAGE)
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--run-time", type=int, default=60, help="seconds")
    parser.add_argument("--reports", type=Path, default=REPORTS)
    parser.add_argument(
        "--memory-margin",
        type=float,
        default=0.8,
        help="fail when peak memory passes this share of the limit (default 0.8)",
    )
    args = parser.parse_args(argv)
    ensure_image(args.image)
    code, summary = load_test_image(
        args.image, args.users, args.run_time, args.reports, args.memory_margin
    )
    print(json.dumps(summary, indent=2))
    print(f"loadtest-container: {'PASSED' if code == 0 else 'FAILED'}")
    return code


if __name__ == "__main__":
    sys.exit(main())
