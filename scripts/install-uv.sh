#!/usr/bin/env bash
# uv, for scripts/setup.sh (which sources this): with pip when this Python allows it; on a Python
# that refuses pip (PEP 668, "externally managed": Debian 12, Ubuntu 23.04+) into a virtual
# environment of its own, linked into ~/.local/bin. Run alone (`bash scripts/install-uv.sh`) it
# does only this; tests/integration/test_setup.py runs it against a local package index.
set -euo pipefail
command -v say >/dev/null 2>&1 || say() { printf 'setup: %s\n' "$*" >&2; }

if ! command -v uv >/dev/null 2>&1; then
  export PATH="$HOME/.local/bin:$PATH"
fi
if ! command -v uv >/dev/null 2>&1; then
  say "installing uv with pip"
  if ! python3 -m pip install --quiet --user uv 2>/dev/null && ! python3 -m pip install --quiet uv 2>/dev/null; then
    # a distribution Python that refuses pip (PEP 668, "externally managed": Debian 12, Ubuntu 23.04+):
    # uv gets a virtual environment of its own, linked into ~/.local/bin
    uv_home="${XDG_DATA_HOME:-$HOME/.local/share}/attendance/uv-venv"
    if ! python3 -m venv "$uv_home" 2>/dev/null; then
      if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        say "installing python3-venv (this Python has no venv module)"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
        python3 -m venv "$uv_home"
      else
        say "this Python refuses pip install and has no venv module: install uv yourself (pipx install uv,"
        say "or your package manager's python3-venv), then run this again"
        exit 1
      fi
    fi
    "$uv_home/bin/python" -m pip install --quiet uv
    mkdir -p "$HOME/.local/bin"
    ln -sf "$uv_home/bin/uv" "$HOME/.local/bin/uv"
    ln -sf "$uv_home/bin/uvx" "$HOME/.local/bin/uvx"
    say "this Python is externally managed (PEP 668): uv was installed into $uv_home and linked into ~/.local/bin"
  fi
  hash -r
  command -v uv >/dev/null 2>&1 || { say "uv is installed but not on PATH; add ~/.local/bin to PATH"; exit 1; }
fi

