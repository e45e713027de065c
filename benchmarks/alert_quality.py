"""Alert quality on real GPS: GeoLife traces (WGS-84) against Beijing districts (GCJ-02).

    python -m benchmarks.alert_quality [--accuracy-m 15 [30 ...]] [--level normal [strict ...]]
        [--baseline]

Each trace's allowed area is the district it starts in. Compared, on the same points:
(i) a naive rule as Traccar does it (point in polygon, state flips on every change), with the
CRS converted correctly, (ii) the same naive rule without converting GCJ-02 (what a system that
ignores the offset does), and (iii) this engine (accuracy discs, far fixes, dwell and hysteresis)
fed what the evaluator feeds it: classify() with the accuracy, and far = OUTSIDE for a disc of
far_radius_m(accuracy).
A flap is an exit followed by a re-entry (a return, for the engine) within 2 minutes. A departure
is a stretch of fixes more than 1 km outside for more than 10 minutes. It counts as alerted by a
rule's exit in the same excursion: raised before the stretch and not closed by a return since, or
raised during the stretch. "Within two pings" is counted from the first fix more than 1 km out:
the exit is raised on that fix or on one of the next two (a rule cannot know before that fix).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import shapely

from geofence import OUTSIDE, FenceIndex
from geofence.state import (
    DEFAULT_THRESHOLDS,
    AreaState,
    EventKind,
    Fix,
    Thresholds,
    advance,
    far_radius_m,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BEIJING = DATA / "boundaries" / "beijing" / "datav_110000_beijing_districts.geojson"
GEOLIFE = DATA / "trajectories" / "geolife"
FLAP_S = 120
DEPARTURE_M, DEPARTURE_S = 1000.0, 600


@dataclass(frozen=True)
class Trace:
    name: str
    ts_ms: np.ndarray
    lat: np.ndarray
    lon: np.ndarray


def read_plt(path: Path) -> Trace:
    rows = [line.split(",") for line in path.read_text().splitlines()[6:] if line.strip()]
    ts = [
        datetime.fromisoformat(f"{r[5]}T{r[6]}").replace(tzinfo=UTC).timestamp() * 1000
        for r in rows
    ]
    return Trace(
        f"{path.parent.parent.name}/{path.stem}",
        np.array(ts, dtype=np.int64),
        np.array([float(r[0]) for r in rows]),
        np.array([float(r[1]) for r in rows]),
    )


def naive_exits(inside: np.ndarray) -> list[int]:
    """Indexes where a point-in-polygon rule reports an exit (inside → outside)."""
    return [int(i) for i in np.flatnonzero(inside[:-1] & ~inside[1:]) + 1]


def flaps(exits: list[int], entries: list[int], ts_ms: np.ndarray) -> int:
    return sum(
        1 for e in exits if any(0 < ts_ms[n] - ts_ms[e] <= FLAP_S * 1000 for n in entries if n > e)
    )


def contains(index: FenceIndex, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    result: np.ndarray = shapely.contains_xy(index.area, lon, lat)
    return result


def metres_to_boundary(index: FenceIndex, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    x, y = index.projection.to_xy(lat, lon)
    result: np.ndarray = shapely.distance(index.boundary_m, shapely.points(x, y))
    return result


@dataclass(frozen=True)
class Departure:
    start: int  # the first fix more than 1 km out
    end: int  # the last fix of the stretch


def departures(index: FenceIndex, trace: Trace) -> list[Departure]:
    """Each stretch of fixes > 1 km outside lasting > 10 minutes."""
    far = ~contains(index, trace.lat, trace.lon) & (
        metres_to_boundary(index, trace.lat, trace.lon) > DEPARTURE_M
    )
    found, start = [], None
    for i, is_far in enumerate([*far, False]):
        if is_far and start is None:
            start = i
        elif not is_far and start is not None:
            if trace.ts_ms[i - 1] - trace.ts_ms[start] > DEPARTURE_S * 1000:
                found.append(Departure(start, i - 1))
            start = None
    return found


def alerted_at(gone: Departure, exits: list[int], returns: list[int]) -> int | None:
    """The exit that covers the departure: still open at its start, or raised during it."""
    for e in exits:
        if e <= gone.start and not any(e < r <= gone.start for r in returns):
            return e
        if gone.start < e <= gone.end:
            return e
    return None


# The rule before far fixes (2026-11-24 baseline): dwell only, shorter near the edge.
DWELL_ONLY = {
    "strict": Thresholds(exit_pings=2, exit_min_s=20.0, return_pings=2),
    "normal": Thresholds(exit_pings=3, exit_min_s=30.0, return_pings=2),
    "lenient": Thresholds(exit_pings=3, exit_min_s=60.0, return_pings=3),
}


@dataclass(frozen=True)
class Rule:
    name: str
    thresholds: Thresholds
    uses_far: bool


def engine_rules(levels: list[str], baseline: bool) -> list[Rule]:
    rules = [Rule(f"this engine ({level}", DEFAULT_THRESHOLDS[level], True) for level in levels]
    if baseline:
        rules += [Rule(f"before: dwell only ({lv}", DWELL_ONLY[lv], False) for lv in levels]
    return rules


def engine_events(
    index: FenceIndex, trace: Trace, accuracy_m: float, rules: list[Rule]
) -> dict[str, tuple[list[int], list[int]]]:
    accuracy = np.full(len(trace.lat), accuracy_m)
    codes = index.classify(trace.lat, trace.lon, accuracy)
    far = index.classify(trace.lat, trace.lon, far_radius_m(accuracy)) == OUTSIDE
    out = {}
    for rule in rules:
        fixes = [
            Fix(i, int(t), int(c), bool(f) and rule.uses_far)
            for i, (t, c, f) in enumerate(zip(trace.ts_ms, codes, far, strict=True))
        ]
        _, events = advance(AreaState(), fixes, rule.thresholds)
        out[rule.name] = (
            [e.evidence_ping_ids[-1] for e in events if e.kind is EventKind.EXITED],
            [e.evidence_ping_ids[-1] for e in events if e.kind is EventKind.RETURNED],
        )
    return out


def districts() -> list[tuple[str, FenceIndex, object]]:
    features = json.loads(BEIJING.read_text())["features"]
    out = []
    for feature in features:
        index = FenceIndex.from_geojson(feature, crs="gcj02")
        raw = shapely.make_valid(shapely.geometry.shape(feature["geometry"]))  # unconverted
        out.append((feature["properties"]["name"], index, raw))
    return out


def home(
    trace: Trace, areas: list[tuple[str, FenceIndex, object]]
) -> tuple[str, FenceIndex, object] | None:
    for area in areas:
        if contains(area[1], trace.lat[:1], trace.lon[:1])[0]:
            return area
    return None


@dataclass
class Tally:
    exits: int = 0
    flaps: int = 0
    alerted_by_1km: int = 0
    within_2: int = 0
    alerted: int = 0
    delays_s: list[float] = field(default_factory=list)  # from the first fix 1 km out
    pings_after: list[int] = field(default_factory=list)  # ... counted in fixes

    def add(
        self, trace: Trace, gone: list[Departure], exits: list[int], entries: list[int]
    ) -> None:
        self.exits += len(exits)
        self.flaps += flaps(exits, entries, trace.ts_ms)
        for departure in gone:
            e = alerted_at(departure, exits, entries)
            if e is None:
                continue
            self.alerted += 1
            self.alerted_by_1km += e <= departure.start
            self.within_2 += e <= departure.start + 2
            self.pings_after.append(max(0, e - departure.start))
            self.delays_s.append(max(0, int(trace.ts_ms[e] - trace.ts_ms[departure.start])) / 1000)


def main(args: argparse.Namespace) -> None:
    if not GEOLIFE.exists():
        raise SystemExit(f"GeoLife traces not found at {GEOLIFE}")
    areas = districts()
    counts = {"traces": 0, "points": 0, "departures": 0}
    naive, raw_naive = Tally(), Tally()
    rules = engine_rules(args.level, args.baseline)
    engine = {(a, r.name): Tally() for a in args.accuracy_m for r in rules}
    for path in sorted(GEOLIFE.glob("*/Trajectory/*.plt")):
        trace = read_plt(path)
        area = home(trace, areas) if len(trace.lat) > 1 else None
        if area is None:
            continue
        _, index, raw = area
        counts["traces"] += 1
        counts["points"] += len(trace.lat)
        gone = departures(index, trace)
        counts["departures"] += len(gone)
        inside = contains(index, trace.lat, trace.lon)
        naive.add(trace, gone, naive_exits(inside), naive_exits(~inside))
        raw_inside = shapely.contains_xy(raw, trace.lon, trace.lat)
        raw_naive.add(trace, [], naive_exits(raw_inside), naive_exits(~raw_inside))
        for accuracy_m in args.accuracy_m:
            by_rule = engine_events(index, trace, accuracy_m, rules)
            for name, (exits, returns) in by_rule.items():
                engine[accuracy_m, name].add(trace, gone, exits, returns)
    print_table(counts, naive, raw_naive, engine, args)


def row(name: str, t: Tally, departures: int) -> str:
    delays = "-"
    if t.delays_s:
        median, most = float(np.median(t.delays_s)), max(t.delays_s)
        delays = f"{median:.0f} / {most:.0f} s, fix +{max(t.pings_after)}"
    return (
        f"| {name} | {t.exits} | {t.flaps} | {t.alerted_by_1km}/{departures} | "
        f"{t.within_2}/{departures} | {t.alerted}/{departures} | {delays} |"
    )


def print_table(
    counts: dict[str, int],
    naive: Tally,
    raw_naive: Tally,
    engine: dict[tuple[float, str], Tally],
    args: argparse.Namespace,
) -> None:
    accuracies = " ".join(f"{a:g}" for a in args.accuracy_m)
    n = counts["departures"]
    print(
        f"\n`python -m benchmarks.alert_quality --accuracy-m {accuracies} "
        f"--level {' '.join(args.level)}{' --baseline' if args.baseline else ''}`: "
        f"{counts['traces']} GeoLife traces, "
        f"{counts['points']:,} points, {n} departures (> 1 km out for > 10 min)\n"
    )
    print(
        "| rule | exits raised | flaps (re-entry < 2 min) | departures alerted by 1 km out |"
        " within 2 pings of 1 km out | alerted at all |"
        " delay after 1 km out: median / max, latest fix |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(row("naive point-in-polygon, CRS converted (as Traccar does it)", naive, n))
    print(
        f"| naive point-in-polygon, GCJ-02 offset ignored | {raw_naive.exits} | "
        f"{raw_naive.flaps} | - | - | - | - |"
    )
    for (accuracy_m, name), tally in engine.items():
        print(row(f"{name}, accuracy {accuracy_m:g} m)", tally, n))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accuracy-m", type=float, nargs="+", default=[15.0])
    parser.add_argument(
        "--level", nargs="+", default=["normal"], choices=sorted(DEFAULT_THRESHOLDS)
    )
    parser.add_argument(
        "--baseline", action="store_true", help="also the dwell-only rule this engine replaced"
    )
    main(parser.parse_args())
