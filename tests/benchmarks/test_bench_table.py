"""The ingest benchmark's report: wrk's output read right, and the table's columns for ingest
alone (`--without-worker`) and against a calibration (`--calibrate`)."""

from __future__ import annotations

import argparse
import math

import pytest

from benchmarks import ingest_bench, machine
from benchmarks.measure import parse_wrk

WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:18001/v1/pings
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    11.62ms    4.12ms  61.20ms   80.11%
    Req/Sec     2.70k   201.33     3.10k    71.00%
  Latency Distribution
     50%   11.50ms
     75%   13.52ms
     90%   16.01ms
     99%  812.00us
  53709 requests in 10.05s, 7.12MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   5344.12
Transfer/sec:    725.31KB
"""


def test_wrk_output_is_read_with_its_units() -> None:
    assert parse_wrk(WRK_OUTPUT) == {
        "rps": 5344.12,
        "p50": 11.5,
        "p99": 0.812,
        "errors": 3.0,
        "requests": 53709.0,
    }


CPU_AND_LATENCY = (
    "p50", "p99", "errors", "api_us_per_req", "api_us_per_ping", "worker_us_per_ping",
    "pg_us_per_ping", "pg_api_us_per_ping", "pg_worker_us_per_ping",
)  # fmt: skip


def run(rps: float, evaluated: float, bare_rps: float | None = None) -> dict[str, float]:
    result = dict.fromkeys(CPU_AND_LATENCY, 1.0)
    result |= {"rps": rps, "requests": rps * 10, "pings": rps, "evaluated": evaluated}
    result["pings_per_transaction"] = math.nan if math.isnan(evaluated) else 12.0
    if bare_rps is not None:
        result |= {"bare_rps": bare_rps, "against_bare": rps / bare_rps}
    return result


def table(
    capsys: pytest.CaptureFixture[str],
    rows: list[tuple[str, int, dict[str, float]]],
    *,
    without_worker: bool = False,
    calibrate: bool = False,
    worker_processes: int = 1,
    api_nice: int = 0,
) -> list[list[str]]:
    scenarios = ",".join(dict.fromkeys(ingest_bench.SCENARIOS[label] for label, _, _ in rows))
    args = argparse.Namespace(
        duration=10, runs=1, devices=1000, connections=64, api_processes=1, warmup_s=5,
        rate=None, code_dir=None, scenarios=scenarios, without_worker=without_worker,
        calibrate=calibrate, worker_processes=worker_processes, api_nice=api_nice,
    )  # fmt: skip
    ingest_bench.print_table(rows, args)
    out = capsys.readouterr().out
    command = out.split("`")[1]
    assert ("--worker-processes" in command) == (worker_processes != 1), command
    assert (f"--api-nice {api_nice}" in command) == bool(api_nice), command
    lines = [line for line in out.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


@pytest.fixture(autouse=True)
def no_reference_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine, "describe", lambda: "machine reference: not run")


def test_ingest_alone_says_not_evaluated(capsys: pytest.CaptureFixture[str]) -> None:
    rows = [("native single", 1, run(6000, math.nan))]
    header, rule, native = table(capsys, rows, without_worker=True)
    assert native[header.index("pings/s evaluated")] == "not evaluated"
    assert native[header.index("requests/s")] == "6,000"
    assert native[header.index("pings per evaluator transaction")] == ""
    assert len(header) == len(rule) == len(native) == 14


def test_calibrated_runs_carry_their_ratio_and_batches_none(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rows = [
        ("native single", 1, run(4000, 3990, bare_rps=8000)),
        ("native single", 2, run(6000, 5990, bare_rps=8000)),
        ("native batch of 500", 1, run(120, 60000, bare_rps=9000)),
    ]
    header, rule, native, batch = table(capsys, rows, calibrate=True)
    assert len(header) == len(rule) == len(native) == len(batch) == 16
    assert native[header.index("pings per evaluator transaction")] == "12.0"
    against = header.index("requests/s against it")
    assert native[header.index("bare endpoint req/s")] == "8,000"
    assert native[against] == "0.62x"  # the median of 0.50 and 0.75
    assert native[header.index("pings/s evaluated")] == "4,990"
    assert batch[against] == ""  # 500 pings a request: no ratio to a one-ping endpoint


def test_the_command_names_more_than_one_worker_and_the_api_niceness(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rows = [("native batch of 500", 1, run(120, 60000))]
    header, _, batch = table(capsys, rows, worker_processes=2, api_nice=8)
    assert batch[header.index("pings/s evaluated")] == "60,000"
