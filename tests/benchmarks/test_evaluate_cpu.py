"""benchmarks.evaluate_cpu measures what it says: every ping judged, a position event every
fifth fix of a person, and CPU read for this process and its PostgreSQL backends."""

from __future__ import annotations

import uuid

from benchmarks import evaluate_cpu


async def test_the_evaluator_benchmark_judges_every_ping_it_counts(
    server_urls: tuple[str, str],
) -> None:
    database = f"bench_evaluate_cpu_{uuid.uuid4().hex[:8]}"
    results = await evaluate_cpu.measure(
        server_urls[0],
        database,
        shapes=[(10, 1), (1, 50)],
        pings=1000,
        rounds=1,
        persons=20,
        fix_interval_s=1.0,
    )
    [(own_us, pg_us, events)] = results[(10, 1)]
    assert events == 1000 / 5, "fixes 1 s apart, positions every 5 s: one event per 5 pings"
    assert own_us > 0 and pg_us > 0
    [(_, _, events)] = results[(1, 50)]
    assert events == 1000 / 50, "a transaction of one person's 50 fixes: only the newest goes out"
