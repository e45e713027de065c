"""Calibration: how many requests/s this machine serves from a FastAPI endpoint doing nothing.

    python -m benchmarks.bare_endpoint [--duration 10] [--runs 3]

Issue #4 set its targets on a machine where such an endpoint served 6,300 requests/s on one
uvicorn worker. The machines this project is measured on differ from one session to the next
by more than 2x, and more in system calls than `benchmarks.machine`'s pure-Python figure
shows; this figure, taken in the same run as `ingest_bench`, says what a table's rates are
worth against that machine. Same uvicorn settings as `monitor serve` (uvloop, httptools, no
access log), same wrk (Debian's, 2 threads, 64 connections), a single-ping-sized POST body.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from benchmarks import machine
from benchmarks.measure import cpu_seconds, parse_wrk, require_wrk
from monitor.embedded import free_port

app = FastAPI()


@app.post("/v1/pings")
async def pings() -> dict[str, int]:
    return {"accepted": 1}


BODY = '{"device_id":"d1","ts":1700000000000,"lat":22.5,"lon":114.0,"accuracy_m":10}'
LUA = f"""wrk.method = "POST"
wrk.body = '{BODY}'
wrk.headers["Content-Type"] = "application/json"
"""


def wait_for(port: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"uvicorn did not listen on port {port} within {timeout_s:.0f} s")


@contextlib.contextmanager
def bare_server() -> Iterator[BareServer]:
    """The endpoint served by uvicorn in a process of its own, until the block ends."""
    require_wrk()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "benchmarks.bare_endpoint:app", "--port", str(port),
         "--no-access-log", "--log-level", "warning"],
    )  # fmt: skip
    try:
        wait_for(port)
        with tempfile.TemporaryDirectory() as tmp:
            lua = Path(tmp) / "post.lua"
            lua.write_text(LUA)
            yield BareServer(server.pid, f"http://127.0.0.1:{port}/v1/pings", lua)
    finally:
        server.terminate()
        server.wait()


@dataclass(frozen=True)
class BareServer:
    pid: int
    url: str
    lua: Path

    def measure(self, duration_s: int) -> dict[str, float]:
        """One wrk run: requests/s, p50/p99 ms and the server's CPU µs per request."""
        cpu_before = cpu_seconds(self.pid)
        out = subprocess.run(
            ["wrk", "-t2", "-c64", f"-d{duration_s}s", "--latency", "-s", str(self.lua), self.url],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        result = parse_wrk(out)
        result["us_per_req"] = (cpu_seconds(self.pid) - cpu_before) / result["requests"] * 1e6
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = []
    with bare_server() as server:
        for run in range(1, args.runs + 1):
            runs.append(server.measure(args.duration))
            print(f"run {run}: {runs[-1]}", file=sys.stderr)
    rps = statistics.median(r["rps"] for r in runs)
    print(
        f"\n`python -m benchmarks.bare_endpoint --duration {args.duration} --runs {args.runs}` "
        f"({machine.describe()})\n\n"
        "| FastAPI endpoint doing nothing | requests/s | p50 ms | p99 ms | server CPU µs/request "
        "| against issue #4's 6,300 |\n"
        "|---|---:|---:|---:|---:|---:|\n"
        f"| median of {args.runs} | {rps:,.0f} | "
        f"{statistics.median(r['p50'] for r in runs):.1f} | "
        f"{statistics.median(r['p99'] for r in runs):.1f} | "
        f"{statistics.median(r['us_per_req'] for r in runs):.0f} | {rps / 6300:.2f}x |"
    )


if __name__ == "__main__":
    main()
