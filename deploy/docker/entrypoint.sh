#!/usr/bin/env bash
# The image's `bentoml` command (installed by sentiment/image.py, BentoML's own CLI
# moved beside it as bentoml-cli), so BentoML's entrypoint runs it for `serve`.
# BentoML writes under BENTOML_HOME from its start (store directories, the task
# store, the /metrics files); the image's (/home/bentoml) is in its root file
# system. Run read-only without a volume for it (`docker run --read-only --tmpfs
# /tmp IMAGE serve`), it serves with BENTOML_HOME under $TMPDIR, saying so in one
# line; when that cannot be written either, one line names BENTOML_HOME and it
# stops (exit 2). The model is the bento's own, read from the image either way.
set -euo pipefail

cli="$(dirname "$0")/bentoml-cli"
home="${BENTOML_HOME:-$HOME/bentoml}"
writable() { mkdir -p "$1" 2>/dev/null && [ -w "$1" ]; }
if ! writable "$home"; then
  fallback="${TMPDIR:-/tmp}/bentoml"
  if ! writable "$fallback"; then
    echo "error: BENTOML_HOME ($home) is not writable, nor is $fallback:" \
      "point BENTOML_HOME at a writable volume" >&2
    exit 2
  fi
  echo "warning: BENTOML_HOME ($home) is not writable (a read-only root?):" \
    "serving with BENTOML_HOME=$fallback, whose job state goes with the container;" \
    "point BENTOML_HOME at a volume to keep it" >&2
  export BENTOML_HOME="$fallback"
fi
exec "$cli" "$@"
