#!/usr/bin/env bash
# Microsoft 365 Agents Playground, Microsoft's local Teams client, against this bot: no Azure, no Teams.
#
#   scripts/playground.sh install   install the Playground (npm) into its cache folder and print its path
#   scripts/playground.sh           install it, add the demo company for it, start the service and the Playground
#
# The Playground is installed once into ${ATTENDANCE_PLAYGROUND_DIR:-~/.cache/attendance/playground}.
# PORT (default 8080) is the service's port, PLAYGROUND_PORT (default 56150) the Playground's.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=0.2.28
DIR="${ATTENDANCE_PLAYGROUND_DIR:-$HOME/.cache/attendance/playground}"
BIN="$DIR/node_modules/.bin/agentsplayground"
say() { printf 'playground: %s\n' "$*" >&2; }

install() {
  if [ -x "$BIN" ] && grep -q "\"version\": \"$VERSION\"" "$DIR/node_modules/@microsoft/m365agentsplayground/package.json" 2>/dev/null; then
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    say "npm is missing: install Node.js 20 or newer with npm (Debian/Ubuntu: apt-get install nodejs npm), or run make setup-playground"
    exit 1
  fi
  say "installing @microsoft/m365agentsplayground@$VERSION into $DIR"
  mkdir -p "$DIR"
  npm install --prefix "$DIR" --no-audit --no-fund --loglevel=error "@microsoft/m365agentsplayground@$VERSION" >&2
}

install
if [ "${1:-}" = "install" ]; then
  printf '%s\n' "$BIN"
  exit 0
fi

PORT="${PORT:-8080}"
PLAYGROUND_PORT="${PLAYGROUND_PORT:-56150}"
.venv/bin/attendance demo --playground
TEAMS_ALLOW_ANONYMOUS=1 .venv/bin/attendance run --port "$PORT" &
service=$!
trap 'kill "$service" 2>/dev/null; wait "$service" 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  .venv/bin/python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$PORT/readyz', timeout=2)" 2>/dev/null && break
  kill -0 "$service" 2>/dev/null || { say "the service did not start (see above)"; exit 1; }
  sleep 0.5
done
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ "$(uname)" != Darwin ]; then
  export TEAMSAPPTESTER_BROWSER=none  # no screen here: it would exit when it cannot open a browser
fi
say "open http://localhost:$PLAYGROUND_PORT in a browser: you are Alex Wilber of the Demo Company (Ctrl-C stops both)"
mkdir -p var/playground
cd var/playground  # the Playground writes its logs under ./devTools
"$BIN" -e "http://127.0.0.1:$PORT/api/messages" -c msteams -p "$PLAYGROUND_PORT" --dt
