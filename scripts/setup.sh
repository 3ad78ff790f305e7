#!/usr/bin/env bash
# Prepares a machine for `make run` / `make test`: system packages for the dlib build, uv, and
# the project's environment in .venv (from uv.lock). Safe to run again; it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }

# `setup.sh --tests` also installs what only the tests need: Chromium for the browser tests;
# `setup.sh --playground` Node.js and npm, for Microsoft's Agents Playground (scripts/playground.sh).
for_tests=0
for_playground=0
[ "${1:-}" = "--tests" ] && for_tests=1
[ "${1:-}" = "--playground" ] && for_playground=1

# --- system packages: a C++ compiler, cmake and OpenBLAS headers, to compile dlib once; --------
# --- Chromium for the browser tests of the dashboard and the kiosk (with --tests) ----------------
missing=()
if [ "$for_tests" = 1 ]; then
  command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)
fi
if [ "$for_playground" = 1 ]; then
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
fi
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
if ! { [ -e /usr/include/x86_64-linux-gnu/cblas.h ] || [ -e /usr/include/aarch64-linux-gnu/cblas.h ] \
       || [ -e /usr/include/openblas/cblas.h ] || ls /usr/include/*/openblas*/cblas.h >/dev/null 2>&1 \
       || [ -e /usr/include/cblas.h ]; }; then
  missing+=(libopenblas-dev)
fi
source scripts/apt.sh
if [ ${#missing[@]} -gt 0 ]; then
  if ! apt_install "${missing[@]}"; then
    say "missing system packages: ${missing[*]}"
    say "install them with your package manager (Debian/Ubuntu: apt-get install ${missing[*]};"
    say "Fedora: dnf install gcc-c++ cmake openblas-devel; macOS: brew install cmake openblas)."
    say "Without OpenBLAS dlib still builds, but face encoding is 3-4x slower."
    say "Without chromium the browser tests fail with a message saying so; the service itself runs."
    say "Without nodejs and npm the Agents Playground cannot be installed; nothing else needs them."
    if [[ " ${missing[*]} " == *" g++ "* ]]; then exit 1; fi
  fi
fi

# --- uv ------------------------------------------------------------------------------------------
source scripts/install-uv.sh

# --- the environment ------------------------------------------------------------------------------
# Everything from uv.lock except dlib; --inexact keeps the dlib installed below.
uv sync --locked --inexact --no-install-package dlib --quiet

# --- dlib: compiled from source against OpenBLAS once per machine, then reused --------------------
# uv's own cache does not survive here: the package registry's caching headers make uv treat the
# sdist as a new revision for every fresh .venv and compile again. So setup keeps the built wheel
# in a wheelhouse of its own, outside the repository.
dlib_version=$(awk '/^name = "dlib"$/ {f=1} f && /^version = / {gsub(/"/, "", $3); print $3; exit}' uv.lock)
dlib_sha256=$(awk '/^name = "dlib"$/ {f=1} f && /^sdist = / {match($0, /sha256:[0-9a-f]+/); print substr($0, RSTART + 7, RLENGTH - 7); exit}' uv.lock)
[ -n "$dlib_version" ] && [ -n "$dlib_sha256" ] || { say "cannot find dlib in uv.lock"; exit 1; }
venv_python=.venv/bin/python
if ! "$venv_python" -c "import sys, dlib; sys.exit(dlib.__version__ != '$dlib_version')" 2>/dev/null; then
  pytag=$("$venv_python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
  wheelhouse="${ATTENDANCE_WHEELHOUSE:-${XDG_CACHE_HOME:-$HOME/.cache}/attendance/wheels}/$(uname -m)"
  wheel=$(ls "$wheelhouse"/dlib-"$dlib_version"-"$pytag"-*.whl 2>/dev/null | head -n 1 || true)
  if [ -z "$wheel" ]; then
    say "compiling dlib $dlib_version against OpenBLAS, once for this machine (about 8 minutes on 2 cores)"
    mkdir -p "$wheelhouse"
    req=$(mktemp)
    printf 'dlib==%s --hash=sha256:%s\n' "$dlib_version" "$dlib_sha256" > "$req"
    uvx --quiet --python "$venv_python" --from pip pip wheel --quiet --no-deps --require-hashes \
      -r "$req" -w "$wheelhouse"
    rm -f "$req"
    wheel=$(ls "$wheelhouse"/dlib-"$dlib_version"-"$pytag"-*.whl | head -n 1)
  fi
  uv pip install --quiet --python "$venv_python" --no-deps "$wheel"
fi
"$venv_python" -c "import dlib, sys; sys.exit(0 if dlib.DLIB_USE_BLAS else 1)" \
  || say "warning: dlib was built without BLAS; face encoding will be 3-4x slower (install libopenblas-dev, then delete the dlib wheel under ~/.cache/attendance/wheels)"
