"""The missed check-in alarm rate (未签到报警率): check-in windows judged missed over windows
due, per office, rebuilt from the rules, since no row is kept per window.

A check-in rule is never edited (geofence.person_rules.Checkin), so its windows follow from its
params: on each listed local weekday a window opens at `at` in the person's time zone, lasts
`window_min` and is judged `grace_min` after it closes (its due time). A window counts as due
in a period when its due time lies in it, has passed, and the timers would ask it
(alerts/checkins.py): the rule was made before the window opened and was still on at the due
time, a monitoring order (not revoked by then) was in force at the window's opening and at its
close, and no suspension of missed_checkin covered either end. A window is missed when its
opening is listed in the `missed` of a missed_checkin alert of that rule: each window the
timers find missed is added there once, whether it opened the alert or updated it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from monitor.reports.queries import Scope
from pings.pg import Conn

RULES = """
SELECT r.id AS rule_id, r.person_id, p.jurisdiction_id, p.timezone, r.created_at,
       r.deactivated_at, (r.params ->> 'at')::time AS opens,
       coalesce((r.params ->> 'window_min')::int, 60) * interval '1 minute' AS window_len,
       coalesce((r.params ->> 'grace_min')::int, 10) * interval '1 minute' AS grace,
       CASE WHEN r.params ? 'days'
            THEN ARRAY(SELECT jsonb_array_elements_text(r.params -> 'days')::int)
            ELSE ARRAY[0, 1, 2, 3, 4, 5, 6] END AS days
FROM person_rules r JOIN persons p ON p.id = r.person_id
JOIN jurisdictions j ON j.id = p.jurisdiction_id
WHERE r.kind = 'checkin' AND j.path LIKE $1 || '%' AND r.created_at < $3
  AND (r.deactivated_at IS NULL OR r.deactivated_at >= $2)
"""
# local dates far enough back that a window due at $2 (opened up to 36 h before) is made;
# materialized, so each window's local opening is converted once, not at every use
WINDOWS = """
SELECT w.rule_id, w.person_id, w.jurisdiction_id, w.created_at, w.deactivated_at, w.starts,
       w.starts + w.window_len AS ends, w.starts + w.window_len + w.grace AS due
FROM (
    SELECT rl.*, (d::date + rl.opens) AT TIME ZONE rl.timezone AS starts
    FROM rules rl CROSS JOIN LATERAL generate_series(
        (($2 - rl.window_len - rl.grace) AT TIME ZONE rl.timezone)::date - 1,
        ($3 AT TIME ZONE rl.timezone)::date, interval '1 day') AS d
    WHERE extract(isodow FROM d)::int - 1 = ANY (rl.days)
) w
"""
LIVE_ORDER_AT = """EXISTS (SELECT 1 FROM monitoring_orders o WHERE o.person_id = w.person_id
    AND (o.revoked_at IS NULL OR o.revoked_at > w.due) AND {condition})"""
SUSPENDED_AT = "s.starts <= {at} AND {at} < s.ends"
# suspensions of missed_checkin (all types when none listed) of the persons with a rule: few
# rows, read once, rather than the person's rules probed for every window
SUSPENSIONS = """
SELECT s.person_id, s.created_at, s.deactivated_at,
       (s.params ->> 'starts_at')::timestamptz AS starts,
       (s.params ->> 'ends_at')::timestamptz AS ends
FROM person_rules s
WHERE s.kind = 'suspension' AND s.person_id IN (SELECT person_id FROM rules)
  AND (coalesce(jsonb_array_length(s.params -> 'types'), 0) = 0
       OR s.params -> 'types' ? 'missed_checkin')
"""
ASKED = f"""
w.due >= $2 AND w.due < $3 AND w.due <= $4 AND w.starts > w.created_at
AND (w.deactivated_at IS NULL OR w.deactivated_at > w.due)
AND {LIVE_ORDER_AT.format(condition="o.starts_at <= w.starts AND w.starts < o.ends_at")}
AND {LIVE_ORDER_AT.format(condition="o.starts_at < w.ends AND w.ends <= o.ends_at")}
AND NOT EXISTS (
    SELECT 1 FROM suspensions s WHERE s.person_id = w.person_id
      AND s.created_at <= w.due AND (s.deactivated_at IS NULL OR s.deactivated_at > w.due)
      AND ({SUSPENDED_AT.format(at="w.starts")}
           OR {SUSPENDED_AT.format(at="w.ends - interval '1 millisecond'")})
)
"""
# every window the timers found missed in an alert updated since the period began; joined by
# hash, not probed per window (a probe per window re-reads the alerts: minutes at 5,000 rules)
MISSED = """
SELECT DISTINCT a.person_id, a.rule_key, m.value::timestamptz AS starts
FROM alerts a CROSS JOIN jsonb_array_elements_text(coalesce(a.details -> 'missed', '[]')) m
WHERE a.type = 'missed_checkin' AND a.last_evidence_at >= $2
  AND a.person_id IN (SELECT person_id FROM rules)
"""
CHECKIN_RATE = f"""
WITH rules AS ({RULES}), windows AS MATERIALIZED ({WINDOWS}),
     suspensions AS MATERIALIZED ({SUSPENSIONS}), missed AS MATERIALIZED ({MISSED}),
     counted AS (
         SELECT w.jurisdiction_id, count(*) AS windows_due, count(m.starts) AS windows_missed
         FROM windows w
         LEFT JOIN missed m ON m.person_id = w.person_id
                           AND m.rule_key = 'checkin:' || w.rule_id AND m.starts = w.starts
         WHERE {ASKED}
         GROUP BY 1
     )
SELECT c.*, j.name AS jurisdiction_name
FROM counted c JOIN jurisdictions j ON j.id = c.jurisdiction_id
"""
OPENED = """
SELECT a.jurisdiction_id, j.name AS jurisdiction_name, count(*) AS alerts_opened
FROM alerts a JOIN jurisdictions j ON j.id = a.jurisdiction_id
WHERE j.path LIKE $1 || '%' AND a.type = 'missed_checkin'
  AND a.opened_at >= $2 AND a.opened_at < $3
GROUP BY 1, 2
"""


async def checkin_rate(conn: Conn, scope: Scope, *, now: datetime) -> list[dict[str, Any]]:
    """Per office: windows due, windows missed, missed_checkin alerts opened, and the rate
    (missed over due; null with no window due)."""
    args = (scope.under_path, scope.start, scope.end)
    by_office: dict[int, dict[str, Any]] = {}
    for row in await conn.fetch(CHECKIN_RATE, *args, now):
        by_office[row["jurisdiction_id"]] = {**dict(row), "alerts_opened": 0}
    for row in await conn.fetch(OPENED, *args):
        blank = {**dict(row), "windows_due": 0, "windows_missed": 0}
        by_office.setdefault(row["jurisdiction_id"], blank)["alerts_opened"] = row["alerts_opened"]
    return [with_rate(by_office[key]) for key in sorted(by_office)]


def with_rate(row: dict[str, Any]) -> dict[str, Any]:
    due, missed = row["windows_due"], row["windows_missed"]
    return {**row, "alarm_rate": round(missed / due, 6) if due else None}


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    summed = {
        key: sum(r[key] for r in rows) for key in ("windows_due", "windows_missed", "alerts_opened")
    }
    return with_rate(summed)
