#!/usr/bin/env bash
# The loop as services, end to end: builds the images (docker/build.sh), runs `harness serve` under
# compose, drives it from this host with curl (docker/smoke.sh), then runs the seed story with the
# two mock images apart (compose profile `split`: they reach each other by service name). An
# absent Docker daemon is an error, never a skip. Usage: docker/check.sh (from .ci/run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

started=$SECONDS
if ! docker info >/dev/null 2>&1; then
    echo "error: no Docker daemon answers (docker info failed): the container checks need one" >&2
    exit 1
fi
docker/build.sh

# Compose v2 as a docker plugin, or v1 (Debian's docker-compose).
compose() {
    if docker compose version >/dev/null 2>&1; then docker compose "$@"; else docker-compose "$@"; fi
}
trap 'compose --profile split down --remove-orphans >/dev/null 2>&1 || true' EXIT
compose --profile split down --remove-orphans >/dev/null 2>&1 || true

compose up -d serve
health=starting
for _ in $(seq 1 60); do
    health=$(docker inspect --format '{{.State.Health.Status}}' "$(compose ps -q serve)" 2>/dev/null || echo gone)
    [ "$health" = healthy ] && break
    sleep 0.5
done
if [ "$health" != healthy ]; then
    compose logs serve >&2
    echo "error: the serve container is $health, not healthy" >&2
    exit 1
fi
env_file=$(mktemp)
compose logs --no-log-prefix serve | grep -E '^[A-Z_]+=' >"$env_file"
docker/smoke.sh "$env_file"
rm -f "$env_file"
compose stop serve >/dev/null 2>&1
code=$(docker inspect --format '{{.State.ExitCode}}' "$(compose ps -q serve)")
[ "$code" = 0 ] || { echo "error: harness serve exited $code on SIGTERM" >&2; exit 1; }

compose --profile split run --rm check
echo "containers: $((SECONDS - started)) s"
