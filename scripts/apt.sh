#!/usr/bin/env bash
# Sourced by scripts/setup.sh and scripts/container-engine.sh: `apt_install PACKAGE...` installs
# Debian's packages with apt-get as root, or with password-less sudo; returns 1 (installing
# nothing) where it can do neither, so the caller says what to install by hand.
command -v say >/dev/null 2>&1 || say() { printf 'setup: %s\n' "$*" >&2; }

apt_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  local as=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null || return 1
    as=(sudo)
  fi
  say "installing system packages${as:+ with sudo}: $*"
  "${as[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${as[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
