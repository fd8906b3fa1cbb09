"""The container image ``bentoml build`` describes (service.py passes it on).

python:3.11-slim and the locked wheels of ``requirements/serve.txt``, nothing
compiled. The image's ``bentoml`` command is ``deploy/docker/entrypoint.sh``,
which checks ``BENTOML_HOME`` before BentoML's CLI writes there: run read-only
without a volume for it, BentoML would stop with a traceback. (BentoML 1.4's
images ignore bentofile's ``dockerfile_template``; a command after the wheels
is the hook they have, and the bento's own entrypoint is copied in last.)
"""

from __future__ import annotations

from pathlib import Path

import bentoml

PROJECT = Path(__file__).resolve().parent.parent
REQUIREMENTS = PROJECT / "requirements" / "serve.txt"
HOME_CHECK = "deploy/docker/entrypoint.sh"  # in the bento's include list
VENV_BIN = "/app/.venv/bin"  # where BentoML's images put the venv


def image() -> bentoml.images.Image:
    """The image; its requirements are read when ``bentoml build`` imports this.

    Served from a bento the lock is not there (nor needed): the image is built.
    """
    requirements = REQUIREMENTS.read_text() if REQUIREMENTS.exists() else ""
    return bentoml.images.Image(
        base_image="python:3.11-slim",
        # A distro BentoML knows would prepend `apt-get install build-essential
        # git` (633 MB); nothing here compiles.
        distro="python-slim",
        python_version="3.11",
        lock_python_packages=False,  # the lock is ours, with hashes
        python_requirements=requirements,
        build_include_paths=[HOME_CHECK],
        post_commands=[
            f"mv {VENV_BIN}/bentoml {VENV_BIN}/bentoml-cli"
            f" && install -m 0755 src/{HOME_CHECK} {VENV_BIN}/bentoml"
        ],
    )
