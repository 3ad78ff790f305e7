#!/usr/bin/env bash
# Sourced by scripts/image.sh and the deploy tests' scripts: picks the container engine ($engine:
# podman, or docker where that is what the machine has), installing podman where it can.
# Podman on these machines needs runc and ulimits no higher than the shell's (crun fails on a
# kernel with hybrid cgroups; without CAP_SYS_RESOURCE a higher hard limit fails), so setup writes
# var/containers.conf and CONTAINERS_CONF points at it, unless you set CONTAINERS_CONF yourself.
command -v say >/dev/null 2>&1 || say() { printf 'image: %s\n' "$*" >&2; }

if command -v podman >/dev/null 2>&1; then
  engine=podman
elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  engine=docker
else
  need=(podman runc mmdebstrap uidmap)
  source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"
  if ! apt_install "${need[@]}"; then
    say "no container engine: install podman (Debian/Ubuntu: apt-get install ${need[*]}; Fedora: dnf install podman)"
    exit 1
  fi
  engine=podman
fi

if [ "$engine" = podman ] && [ -z "${CONTAINERS_CONF:-}" ]; then
  conf="$PWD/var/containers.conf"
  if [ ! -f "$conf" ]; then
    mkdir -p var
    nofile=$(ulimit -Hn); nproc=$(ulimit -Hu)
    [ "$nofile" = unlimited ] && nofile=1048576
    [ "$nproc" = unlimited ] && nproc=32768
    [ "$nproc" -gt 32768 ] && nproc=32768
    {
      echo "# written by scripts/container-engine.sh: podman's limits no higher than this shell's"
      echo "[containers]"
      echo "default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\"]"
      if command -v runc >/dev/null 2>&1; then
        echo "[engine]"
        echo "runtime = \"runc\""
      fi
    } > "$conf"
    say "wrote $conf (runc, ulimits nofile=$nofile nproc=$nproc); CONTAINERS_CONF points at it"
  fi
  export CONTAINERS_CONF="$conf"
fi
