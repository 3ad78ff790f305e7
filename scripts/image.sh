#!/usr/bin/env bash
# `make image`: builds localhost/attendance:<version> and :latest from the Containerfile, with podman
# (or docker where that is what the machine has).
#
# The base is BASE_IMAGE (default: the official python:3.11-slim-bookworm). When no registry answers
# (these machines reach none), the base is built from Debian's own packages with mmdebstrap and
# imported as localhost/attendance-base:bookworm, once; the script says so.
# The dlib wheel that setup compiled is passed in the build context, so a rebuild takes minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'image: %s\n' "$*" >&2; }

default_base=docker.io/library/python:3.11-slim-bookworm
local_base=localhost/attendance-base:bookworm
version=$(awk -F'"' '/^version = / {print $2; exit}' pyproject.toml)
name=${IMAGE_NAME:-localhost/attendance}

source scripts/container-engine.sh   # sets $engine, and CONTAINERS_CONF for podman where needed

base=${BASE_IMAGE:-}
if [ -z "$base" ]; then
  if "$engine" image inspect "$default_base" >/dev/null 2>&1 || timeout 120 "$engine" pull -q "$default_base" >/dev/null 2>&1; then
    base=$default_base
  else
    base=$local_base
    if ! "$engine" image inspect "$base" >/dev/null 2>&1; then
      command -v mmdebstrap >/dev/null 2>&1 || { say "no registry answers and mmdebstrap is missing: apt-get install mmdebstrap, or set BASE_IMAGE to an image you have"; exit 1; }
      say "no container registry answers ($default_base cannot be pulled): building a Debian bookworm base"
      say "from Debian's packages with mmdebstrap (python3, python3-venv, ca-certificates; about a minute)"
      mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
      tarball=$(mktemp --suffix=.tar)
      trap 'rm -f "$tarball"' EXIT
      mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$tarball" "$mirror"
      "$engine" import --change 'CMD ["python3"]' "$tarball" "$base" >/dev/null
      say "imported $base"
    fi
  fi
fi

# the build context's extras (var/ is ignored by git): the dlib wheel, and the CA certificates of
# this machine's own (a TLS-inspecting proxy between the build and the package index)
rm -rf var/image && mkdir -p var/image/wheels var/image/certs
wheelhouse="${ATTENDANCE_WHEELHOUSE:-${XDG_CACHE_HOME:-$HOME/.cache}/attendance/wheels}/$(uname -m)"
cp "$wheelhouse"/dlib-*.whl var/image/wheels/ 2>/dev/null || say "no dlib wheel in $wheelhouse: the build compiles dlib (about 10 minutes)"
cp /usr/local/share/ca-certificates/*.crt var/image/certs/ 2>/dev/null || true
touch var/image/wheels/.keep var/image/certs/.keep

say "building $name:$version from $base with $engine"
build_args=(--build-arg "BASE_IMAGE=$base" --build-arg "VERSION=$version" -t "$name:$version" -t "$name:latest" -f Containerfile)
if [ "$engine" = podman ]; then
  # docker format: keeps HEALTHCHECK (OCI images have none); host network: the package index through this machine's resolver
  build_args+=(--format docker --network host)
fi
"$engine" build "${build_args[@]}" .
say "built $name:$version and $name:latest"
say "try it: $engine run --rm --network=host $name:latest run --host 127.0.0.1 --port 8080"
