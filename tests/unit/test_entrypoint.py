"""deploy/docker/entrypoint.sh: the image's `bentoml`, a check of BENTOML_HOME first."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from devtools.servers import PROJECT_DIR

SCRIPT = PROJECT_DIR / "deploy" / "docker" / "entrypoint.sh"
UNWRITABLE = "/proc/no-such-home"  # no one, not even root, can create it


def run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The script installed as ``bentoml`` beside a stand-in ``bentoml-cli``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    command = bin_dir / "bentoml"
    shutil.copy(SCRIPT, command)
    stand_in = bin_dir / "bentoml-cli"
    stand_in.write_text('#!/bin/sh\necho "home=$BENTOML_HOME args=$*"\n')
    stand_in.chmod(0o755)
    return subprocess.run(  # noqa: S603
        ["/bin/bash", str(command), "serve", "--port", "3999"],
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_a_writable_home_is_used_as_it_is(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = run(tmp_path, BENTOML_HOME=str(home))
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.strip() == f"home={home} args=serve --port 3999"


def test_an_unwritable_home_moves_under_tmpdir_with_one_warning(
    tmp_path: Path,
) -> None:
    done = run(tmp_path, BENTOML_HOME=UNWRITABLE, TMPDIR=str(tmp_path))
    assert done.returncode == 0
    assert done.stdout.strip() == f"home={tmp_path}/bentoml args=serve --port 3999"
    (warning,) = done.stderr.splitlines()
    assert warning.startswith("warning: BENTOML_HOME") and UNWRITABLE in warning


def test_nowhere_to_write_is_one_line_naming_bentoml_home(tmp_path: Path) -> None:
    done = run(tmp_path, BENTOML_HOME=UNWRITABLE, TMPDIR="/proc/no-such-tmp")
    assert done.returncode == 2 and done.stdout == ""
    (error,) = done.stderr.splitlines()
    assert error.startswith("error: BENTOML_HOME") and "volume" in error
