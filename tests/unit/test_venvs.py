"""Every venv the Makefile defines is made one way (issue 44), read from a dry run.

``make -n venvs`` with each venv variable pointed into a temp dir prints what
would run: each venv is created, gets the pip of requirements/pip.txt, then its
locks, hash-checked where the lock has hashes. The real builds are ``make test``'s
own: it builds every venv (``venvs``) before the suite, on CI's clean clone.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import PROJECT_DIR

VENVS = {  # the Makefile's variable for each venv, and its default directory
    "VENV": ".venv",
    "CLIENTS_VENV": ".venv-clients",
    "MLSERVER_VENV": ".venv-mlserver",
    "LITSERVE_VENV": ".venv-litserve",
}


def make_env() -> dict[str, str]:
    """The environment without a calling make's flags (``make test`` runs pytest)."""
    drop = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def venv_args(root: Path) -> list[str]:
    """``VAR=dir`` for every venv, each under ``root``."""
    return [f"{var}={root / name}" for var, name in VENVS.items()]


def dry_run(root: Path) -> list[str]:
    result = subprocess.run(
        ["make", "-n", "-C", str(PROJECT_DIR), *venv_args(root), "venvs"],
        env=make_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.splitlines()


def hashed(lock: str) -> bool:
    return "--hash=" in (PROJECT_DIR / lock).read_text()


def test_every_venv_is_made_with_the_locked_pip_before_its_locks(
    tmp_path: Path,
) -> None:
    lines = dry_run(tmp_path)
    created = [line.split()[-1] for line in lines if " -m venv " in line]
    assert sorted(created) == sorted(str(tmp_path / d) for d in VENVS.values())
    installs = [line for line in lines if " -m pip install " in line]
    # Nothing is installed outside the temp dir: every venv has its variable.
    assert installs and all(line.startswith(str(tmp_path)) for line in installs)
    for venv in created:
        into = [line for line in installs if line.startswith(f"{venv}/bin/python ")]
        assert "-r requirements/pip.txt" in into[0], venv
        assert len(into) >= 2, f"{venv} gets no lock"


def test_hashed_locks_are_installed_hash_checked(tmp_path: Path) -> None:
    installs = [line for line in dry_run(tmp_path) if " -m pip install " in line]
    locks = {line.split(" -r ")[-1]: line for line in installs}
    assert {"requirements/litserve.txt", "requirements/clients.txt"} <= set(locks)
    for lock, line in locks.items():
        assert ("--require-hashes" in line) == hashed(lock), line
    assert hashed("requirements/litserve.txt") and hashed("requirements/pip.txt")


def test_make_test_builds_every_venv_first() -> None:
    """On CI's clean clone each venv target runs once, so a broken one fails CI."""
    result = subprocess.run(
        ["make", "-n", "-p", "-C", str(PROJECT_DIR), "help"],
        env=make_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    rules = [line for line in result.stdout.splitlines() if line.startswith("test:")]
    assert rules and "venvs" in rules[0].split()
