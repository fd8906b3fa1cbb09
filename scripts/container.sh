#!/usr/bin/env bash
# Build the bento and its image, tagged <IMAGE_NAME>:<bento version> and :latest.
# Needs a model in the store (BENTOML_HOME, default ~/bentoml): `make container`
# trains one first through its `model` prerequisite.
# Writes the image's CycloneDX SBOM to $SBOM_DIR (default sbom/).
# Prints the image name, its size, the build time and how to run it.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE_NAME="${IMAGE_NAME:-sentiment-classifier}"
MODEL_NAME="${MODEL_NAME:-sentiment}"
BIN="${BIN:-.venv/bin}"

scripts/base-image.sh
# The docker.io engine from Debian has no buildx: use the classic builder then.
docker buildx version >/dev/null 2>&1 || export DOCKER_BUILDKIT=0

"$BIN/bentoml" models get "$MODEL_NAME:latest" >/dev/null 2>&1 || {
  echo "container.sh: error: no '$MODEL_NAME' model in the store; run 'make model'" >&2
  exit 2
}

started=$(date +%s)
bento_tag="$("$BIN/bentoml" build --output tag | tail -n 1 | sed 's/^__tag__://')"
version="${bento_tag#*:}"
image="$IMAGE_NAME:$version"
"$BIN/bentoml" containerize "$bento_tag" --image-tag "$image" --opt network=host \
  > "${CONTAINERIZE_LOG:-/dev/stderr}"
docker tag "$image" "$IMAGE_NAME:latest"

# The image's SBOM (CycloneDX JSON). First check that the image holds exactly the
# lock's pins (uv verified each download against the lock's hashes); then describe
# the lock, so the SBOM carries those hashes.
sbom="${SBOM_DIR:-sbom}/$IMAGE_NAME-$version.cdx.json"
mkdir -p "$(dirname "$sbom")"
pins() { tr '[:upper:]_' '[:lower:]-' | sort; }
installed="$(docker run --rm --network none --entrypoint uv "$image" \
  pip freeze --python /app/.venv/bin/python 2>/dev/null | pins)"
locked="$(grep -E '^[A-Za-z0-9_.-]+==' requirements/serve.txt | sed 's/[ \\]*$//' | pins)"
if [ "$installed" != "$locked" ]; then
  echo "container.sh: error: the image's packages differ from requirements/serve.txt:" >&2
  diff <(echo "$locked") <(echo "$installed") >&2 || true
  exit 1
fi
"$BIN/cyclonedx-py" requirements requirements/serve.txt --pyproject pyproject.toml \
  --output-reproducible --output-file "$sbom"
elapsed=$(( $(date +%s) - started ))
size="$(docker image inspect -f '{{.Size}}' "$image" | numfmt --to=iec)"

cat <<MSG
Built $image (also $IMAGE_NAME:latest) from bento $bento_tag in ${elapsed}s; size $size.
SBOM (CycloneDX): $sbom
Run it (host networking only; reach it on 127.0.0.1):
  docker run --rm --network host $IMAGE_NAME:latest serve --host 127.0.0.1 --port 3000
  curl -s -X POST localhost:3000/classify -H 'Content-Type: application/json' -d '{"texts":["a wonderful, moving film"]}'
The Open Inference Protocol over gRPC answers on the HTTP port + 1 (3001; SENTIMENT_GRPC_PORT).
MSG
echo "$image"
