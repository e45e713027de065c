"""Alert quality on real GPS: GeoLife traces (WGS-84) against Beijing districts (GCJ-02).

    python -m benchmarks.alert_quality [--accuracy-m 15] [--level normal]

Each trace's allowed area is the district it starts in. Compared, on the same points:
(i) a naive rule as Traccar does it (point in polygon, state flips on every change), with the
CRS converted correctly, (ii) the same naive rule without converting GCJ-02 (what a system that
ignores the offset does), and (iii) this engine (accuracy discs + dwell and hysteresis).
A flap is an exit followed by a re-entry within 2 minutes. A departure is a stretch more than
1 km outside for more than 10 minutes; "alerted" means the rule had raised an exit by the time
the stretch first went beyond 1 km.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import shapely

from geofence import INSIDE, OUTSIDE, FenceIndex
from geofence.state import DEFAULT_THRESHOLDS, AreaState, EventKind, Fix, advance

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


def departures(index: FenceIndex, trace: Trace) -> list[int]:
    """Index of the first point beyond 1 km of each stretch > 1 km outside for > 10 minutes."""
    far = ~contains(index, trace.lat, trace.lon) & (
        metres_to_boundary(index, trace.lat, trace.lon) > DEPARTURE_M
    )
    found, start = [], None
    for i, is_far in enumerate([*far, False]):
        if is_far and start is None:
            start = i
        elif not is_far and start is not None:
            if trace.ts_ms[i - 1] - trace.ts_ms[start] > DEPARTURE_S * 1000:
                found.append(start)
            start = None
    return found


def engine_events(
    index: FenceIndex, trace: Trace, accuracy_m: float, level: str
) -> tuple[list[int], list[int]]:
    codes = index.classify(trace.lat, trace.lon, np.full(len(trace.lat), accuracy_m))
    fixes = [
        Fix(i, int(t), int(c)) for i, (t, c) in enumerate(zip(trace.ts_ms, codes, strict=True))
    ]
    _, events = advance(AreaState(), fixes, DEFAULT_THRESHOLDS[level])
    by_ts = {int(t): i for i, t in reversed(list(enumerate(trace.ts_ms)))}
    exits = [by_ts[e.ts_ms] for e in events if e.kind is EventKind.EXITED]
    returns = [by_ts[e.ts_ms] for e in events if e.kind is EventKind.RETURNED]
    return exits, returns


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


def main(args: argparse.Namespace) -> None:
    if not GEOLIFE.exists():
        raise SystemExit(f"GeoLife traces not found at {GEOLIFE}")
    areas = districts()
    totals = {
        k: 0
        for k in (
            "traces",
            "points",
            "departures",
            "naive_exits",
            "naive_flaps",
            "naive_alerted",
            "raw_exits",
            "raw_flaps",
            "engine_exits",
            "engine_flaps",
            "engine_alerted",
            "engine_within_2",
            "engine_eventually",
        )
    }
    delays: list[float] = []
    for path in sorted(GEOLIFE.glob("*/Trajectory/*.plt")):
        trace = read_plt(path)
        area = home(trace, areas) if len(trace.lat) > 1 else None
        if area is None:
            continue
        _, index, raw = area
        totals["traces"] += 1
        totals["points"] += len(trace.lat)
        inside = contains(index, trace.lat, trace.lon)
        n_exit, n_entry = naive_exits(inside), naive_exits(~inside)
        raw_inside = shapely.contains_xy(raw, trace.lon, trace.lat)
        r_exit, r_entry = naive_exits(raw_inside), naive_exits(~raw_inside)
        e_exit, e_return = engine_events(index, trace, args.accuracy_m, args.level)
        gone = departures(index, trace)
        totals["departures"] += len(gone)
        totals["naive_exits"] += len(n_exit)
        totals["naive_flaps"] += flaps(n_exit, n_entry, trace.ts_ms)
        totals["raw_exits"] += len(r_exit)
        totals["raw_flaps"] += flaps(r_exit, r_entry, trace.ts_ms)
        totals["engine_exits"] += len(e_exit)
        totals["engine_flaps"] += flaps(e_exit, e_return, trace.ts_ms)
        for start in gone:
            totals["naive_alerted"] += any(e <= start for e in n_exit)
            before = [e for e in e_exit if e <= start]
            totals["engine_alerted"] += bool(before)
            totals["engine_within_2"] += any(e <= start + 2 for e in e_exit)
            totals["engine_eventually"] += any(
                e <= end_of_stretch(index, trace, start) for e in e_exit
            )
            if before:
                delays.append(
                    (trace.ts_ms[before[-1]] - trace.ts_ms[first_outside(index, trace, before[-1])])
                    / 1000
                )
    print_table(totals, delays, args)


def end_of_stretch(index: FenceIndex, trace: Trace, start: int) -> int:
    """Last index of the outside stretch that contains `start`."""
    inside = contains(index, trace.lat[start:], trace.lon[start:])
    after = np.flatnonzero(inside)
    return start + int(after[0]) - 1 if len(after) else len(trace.lat) - 1


def first_outside(index: FenceIndex, trace: Trace, exit_at: int) -> int:
    """The first point of the certain-outside run that ended in the exit at `exit_at`."""
    codes = index.classify(
        trace.lat[: exit_at + 1], trace.lon[: exit_at + 1], np.zeros(exit_at + 1)
    )
    i = exit_at
    while i > 0 and codes[i - 1] != INSIDE:
        i -= 1
    return i if codes[i] == OUTSIDE else exit_at


def print_table(t: dict[str, int], delays: list[float], args: argparse.Namespace) -> None:
    print(
        f"\n`python -m benchmarks.alert_quality --accuracy-m {args.accuracy_m} "
        f"--level {args.level}`: {t['traces']} GeoLife traces, {t['points']:,} points, "
        f"{t['departures']} departures (> 1 km out for > 10 min)\n"
    )
    print(
        "| rule | exits raised | flaps (re-entry < 2 min) | departures alerted by 1 km out |"
        " within 2 pings of 1 km out | alerted at all |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    print(
        f"| naive point-in-polygon, CRS converted | {t['naive_exits']} | {t['naive_flaps']} | "
        f"{t['naive_alerted']}/{t['departures']} | - | - |"
    )
    print(
        f"| naive point-in-polygon, GCJ-02 offset ignored | {t['raw_exits']} | "
        f"{t['raw_flaps']} | - | - | - |"
    )
    print(
        f"| this engine ({args.level}, accuracy {args.accuracy_m:g} m) | {t['engine_exits']} | "
        f"{t['engine_flaps']} | {t['engine_alerted']}/{t['departures']} | "
        f"{t['engine_within_2']}/{t['departures']} | {t['engine_eventually']}/{t['departures']} |"
    )
    if delays:
        print(
            f"\nengine exit delay after the first certain-outside fix: median "
            f"{float(np.median(delays)):.0f} s, max {max(delays):.0f} s"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accuracy-m", type=float, default=15.0)
    parser.add_argument("--level", default="normal", choices=sorted(DEFAULT_THRESHOLDS))
    main(parser.parse_args())
