"""Every venv the Makefile defines builds from scratch, in a temp dir (issue 44).

``make venvs`` with each venv variable pointed into ``tmp_path``: the same recipes
``make serve``, ``make test`` and ``make bench`` run on a fresh machine, so a
target that cannot be built (the bundled pip refusing a hashed lock, a lock that
no longer resolves) fails here rather than on a user's first ``make bench``.
pip reads its cache, which the suite's own setup has just filled, and skips
compiling bytecode (``VENV_PIP_FLAGS=--no-compile``), which nothing here needs.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import PROJECT_DIR
from tests.unit.test_venvs import VENVS, make_env, venv_args

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PIP = (
    (PROJECT_DIR / "requirements" / "pip.txt").read_text().split("pip==")[1].split()[0]
)
IMPORTS = {  # what each venv is for, imported from it
    ".venv": "import bentoml, sklearn, vaderSentiment, pytest, locust, pyspark",
    ".venv-clients": "import tritonclient.http, kserve",
    ".venv-mlserver": "import mlserver",
    ".venv-litserve": "import litserve, uvicorn, sklearn",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every venv, built by ``make venvs`` under one temp dir."""
    root = tmp_path_factory.mktemp("venvs")
    result = subprocess.run(
        [
            "make",
            "-C",
            str(PROJECT_DIR),
            *venv_args(root),
            "VENV_PIP_FLAGS=--no-compile",
            "venvs",
        ],
        env=make_env(),
        capture_output=True,
        text=True,
        timeout=1100,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return root


@pytest.mark.timeout(1200)  # the first one waits for the builds (minutes, cached)
@pytest.mark.parametrize("venv", sorted(VENVS.values()))
def test_each_venv_builds_with_the_locked_pip_and_imports_its_packages(
    built: Path, venv: str
) -> None:
    python = str(built / venv / "bin" / "python")
    pip = subprocess.run(
        [python, "-m", "pip", "--version"], capture_output=True, text=True, check=True
    )
    assert pip.stdout.startswith(f"pip {PIP} ")
    subprocess.run([python, "-c", IMPORTS[venv]], check=True, timeout=300)
