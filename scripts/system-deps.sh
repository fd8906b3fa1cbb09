#!/usr/bin/env bash
# The system packages the test suite needs (the list: devtools/tools.py), for
# `make test` and `.ci/run`:
#   - as root with apt-get: install what is missing, then try for a Docker engine
#     and the image's base (scripts/base-image.sh), best effort: inside a container
#     where no engine can start, the container tests skip and say why;
#   - otherwise: print what is missing and the command that installs it, and go
#     on; each test that needs a missing tool skips naming that command (under
#     CI=1 it fails instead).
# SYSTEM_DEPS=skip leaves the system alone (prints what is missing only).
# With arguments (`scripts/system-deps.sh wrk`, as `make bench` runs it), only
# those tools, and no Docker.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "system-deps: $*" >&2; }

missing="$(python3 -m devtools.tools "$@")"
if [ -z "$missing" ]; then
  [ $# -gt 0 ] || say "every tool the suite needs is installed"
elif [ "${SYSTEM_DEPS:-}" != "skip" ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  say "installing $missing"
  export DEBIAN_FRONTEND=noninteractive
  # apt's own lines (-q: no bars) show the download and each package set up.
  # shellcheck disable=SC2086  # one word per package
  if ! { apt-get update -q && apt-get install -y -q $missing; }; then
    say "apt-get could not install them: the tests that need them will skip"
    [ -z "${CI:-}" ] || exit 1   # CI must not go on without them
  fi
else
  why="not root"
  [ "$(id -u)" -eq 0 ] && why="no apt-get"
  [ "${SYSTEM_DEPS:-}" = "skip" ] && why="SYSTEM_DEPS=skip"
  say "missing (${why}, not installing): $missing"
  say "install with: sudo apt-get install -y $missing"
  say "until then the tests that need them skip, naming this command (CI=1: they fail)"
fi

if [ $# -gt 0 ]; then
  exit 0
elif [ "${SYSTEM_DEPS:-}" != "skip" ] && [ "$(id -u)" -eq 0 ]; then
  scripts/base-image.sh \
    || say "no Docker engine or base image (see above): the container tests will skip"
elif ! docker info >/dev/null 2>&1; then
  say "no Docker engine answers: the container tests will skip (as root, scripts/base-image.sh starts one)"
fi
