"""The image's HEALTHCHECK: GET /healthz of the process this container runs.

The port is the one PID 1 was given (``attendance serve|run --port P``; tini passes the rest of
its command line on), else ``ATTENDANCE_HTTP__PORT``, else 8080; for ``worker`` and ``dispatcher``
it is their ``--metrics-port`` (their /healthz fails when their loop stalls). Exit 0 healthy, 1 not.
"""

import os
import sys
import urllib.request
from pathlib import Path


def port() -> str:
    args = Path("/proc/1/cmdline").read_bytes().split(b"\0")
    for flag in (b"--port", b"--metrics-port"):
        if flag in args[:-1]:
            return args[args.index(flag) + 1].decode()
        for arg in args:
            if arg.startswith(flag + b"="):
                return arg.split(b"=", 1)[1].decode()
    if b"worker" in args:
        return os.environ.get("ATTENDANCE_METRICS__WORKER_PORT", "0")
    if b"dispatcher" in args:
        return os.environ.get("ATTENDANCE_METRICS__DISPATCHER_PORT", "0")
    return os.environ.get("ATTENDANCE_HTTP__PORT", "8080")


try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port()}/healthz", timeout=4) as response:
        sys.exit(0 if response.status == 200 else 1)
except OSError as exc:
    print(f"unhealthy: {exc}", file=sys.stderr)
    sys.exit(1)
