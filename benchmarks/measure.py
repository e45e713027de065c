"""What the wrk-driven benchmarks measure with: a process tree's CPU time and wrk's report."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and all its descendants, living or reaped."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    # utime, stime, cutime, cstime are fields 14..17 of stat; [0] here is field 3
    own = sum(int(f) for f in fields[11:15]) / CLOCK_TICKS
    return own + sum(cpu_seconds(child) for child in children(pid))


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(FileNotFoundError):
            found += [int(c) for c in task.read_text().split()]
    return found


def parse_wrk(out: str) -> dict[str, float]:
    def ms(label: str) -> float:
        match = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert match, out
        return float(match[1]) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match[2]]

    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    requests = re.search(r"(\d+) requests in", out)
    assert rate and requests, out
    return {
        "rps": float(rate[1]),
        "p50": ms("50%"),
        "p99": ms("99%"),
        "errors": float(errors[1]) if errors else 0.0,
        "requests": float(requests[1]),
    }


def require_wrk() -> None:
    """Stop with the fix, not a traceback, where the load generator is missing."""
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install -y wrk")
