#!/usr/bin/env bash
# Prepares a machine for `make run` / `make test`: system packages for the dlib build, uv, and
# the project's environment in .venv (from uv.lock). Safe to run again; it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }

# --- system packages: a C++ compiler, cmake and OpenBLAS headers, to compile dlib once --------
missing=()
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
if ! { [ -e /usr/include/x86_64-linux-gnu/cblas.h ] || [ -e /usr/include/aarch64-linux-gnu/cblas.h ] \
       || [ -e /usr/include/openblas/cblas.h ] || ls /usr/include/*/openblas*/cblas.h >/dev/null 2>&1 \
       || [ -e /usr/include/cblas.h ]; }; then
  missing+=(libopenblas-dev)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    say "installing system packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    say "installing system packages with sudo: ${missing[*]}"
    sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    say "missing system packages: ${missing[*]}"
    say "install them with your package manager (Debian/Ubuntu: apt-get install ${missing[*]};"
    say "Fedora: dnf install gcc-c++ cmake openblas-devel; macOS: brew install cmake openblas)."
    say "Without OpenBLAS dlib still builds, but face encoding is 3-4x slower."
    if [[ " ${missing[*]} " == *" g++ "* ]]; then exit 1; fi
  fi
fi

# --- uv ------------------------------------------------------------------------------------------
if ! command -v uv >/dev/null 2>&1; then
  export PATH="$HOME/.local/bin:$PATH"
fi
if ! command -v uv >/dev/null 2>&1; then
  say "installing uv with pip"
  python3 -m pip install --quiet --user uv 2>/dev/null || python3 -m pip install --quiet uv
  hash -r
  command -v uv >/dev/null 2>&1 || { say "uv is installed but not on PATH; add ~/.local/bin to PATH"; exit 1; }
fi

# --- the environment (the first run compiles dlib, ~8 min on 2 cores; uv caches the wheel) ------
if ! uv sync --locked --quiet 2>/dev/null; then
  say "syncing the environment (the first time compiles dlib against OpenBLAS: about 8 minutes)"
  uv sync --locked
fi
