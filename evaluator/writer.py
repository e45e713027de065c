"""The one writer of the judges' decisions (evaluator.decisions), inside the evaluator's
transaction: open or update a rule's one alert, or note the return; news on an alert opened
elsewhere; the leaves a return ends. Suspension windows, late marks, evidence and the events
for the console work the same for every rule.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from alerts import permit_store, person_store, store
from alerts.models import EventType, NewEvent
from alerts.outbox import alert_event
from evaluator.decisions import Cleared, Decision, LeavesEnded, Noted, Violated
from pings.clock import ms_to_dt
from pings.pg import Conn


async def write(
    conn: Conn, person: person_store.PersonRow, decisions: list[Decision]
) -> list[NewEvent]:
    """Apply a person's decisions in the order the judges made them; answers their events."""
    events: list[NewEvent] = []
    for decision in decisions:
        if isinstance(decision, Violated):
            events += await violation(conn, person, decision)
        elif isinstance(decision, Cleared):
            events += await cleared(conn, person, decision)
        elif isinstance(decision, Noted):
            at = ms_to_dt(decision.at_ms)
            events.append(await noted(conn, person, decision.alert_id, at, decision.details))
        else:
            events += await leaves_ended(conn, person, decision)
    return events


async def violation(
    conn: Conn, person: person_store.PersonRow, decision: Violated
) -> list[NewEvent]:
    rule = decision.rule
    if person.rules.suspended(rule.type.value, decision.at_ms):
        return []  # a suspension window (e.g. a hospital stay): judged, not alerted
    at = ms_to_dt(decision.at_ms)
    alert_id, inserted = await store.upsert_open_alert(
        conn,
        person_id=person.id,
        jurisdiction_id=person.jurisdiction_id,
        type=rule.type,
        rule_key=rule.key,
        at=at,
        late=decision.late,
        episode_id=rule.episode_id,
        evidence_ping_ids=list(decision.evidence_ping_ids),
        details=decision.details,
    )
    kind = EventType.ALERT_OPENED if inserted else EventType.ALERT_UPDATED
    return [await rule_event(conn, person, kind, alert_id, rule.episode_id, at)]


async def cleared(conn: Conn, person: person_store.PersonRow, decision: Cleared) -> list[NewEvent]:
    """Kept again: the open alert records when; `always` is sent even without one."""
    rule = decision.rule
    at = ms_to_dt(decision.at_ms)
    found = await store.open_alert_id(conn, person_id=person.id, type=rule.type, rule_key=rule.key)
    if found is not None:
        await store.merge_details(conn, alert_id=found, details={decision.detail: at.isoformat()})
    kind = decision.always or (EventType.ALERT_UPDATED if found is not None else None)
    if kind is None:
        return []
    return [await rule_event(conn, person, kind, found, rule.episode_id, at)]


async def noted(
    conn: Conn,
    person: person_store.PersonRow,
    alert_id: int,
    at: datetime,
    details: dict[str, Any],
) -> NewEvent:
    """News on an alert opened elsewhere (signal_lost, overdue_return)."""
    await store.merge_details(conn, alert_id=alert_id, details=details)
    return await rule_event(conn, person, EventType.ALERT_UPDATED, alert_id, None, at)


async def leaves_ended(
    conn: Conn, person: person_store.PersonRow, decision: LeavesEnded
) -> list[NewEvent]:
    """Back inside: every leave that had begun is closed (销假), overdue alerts told."""
    at = ms_to_dt(decision.at_ms)
    closed = await permit_store.close_permits(conn, person_id=person.id, at=at)
    details = {"returned_at": at.isoformat()}
    return [await noted(conn, person, alert_id, at, details) for alert_id in closed]


async def rule_event(
    conn: Conn,
    person: person_store.PersonRow,
    kind: EventType,
    alert_id: int | None,
    episode_id: str | None,
    at: datetime,
) -> NewEvent:
    """The event of a verdict: about its alert when one is open, else about the person (a
    return with no alert open)."""
    extra: dict[str, Any] = {"episode_id": episode_id, "at": at.isoformat()}
    if alert_id is not None:
        return await alert_event(conn, alert_id, kind, extra)
    payload = {"person_id": person.id, **extra}
    return NewEvent(kind, person.id, person.jurisdiction_id, person.jurisdiction_path, payload)
