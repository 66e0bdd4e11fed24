"""The integrity section of a complaint response: ``pdtrail verify`` over the subject's period."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from clickhouse_connect.driver.client import Client

from pdtrail.config import Settings
from pdtrail.errors import PdtrailError

MAX_PROOFS = 500  # per report: a subject rarely has more events in a complaint's period


def integrity_check(
    settings: Settings, client: Client, since: dt.datetime | None, until: dt.datetime | None, *,
    external: bool = True, event_ids: Sequence[str] = (),
) -> dict[str, Any]:  # fmt: skip
    """Verify the signed checkpoints whose events overlap the period (the subject's events among them)
    against the stored rows, and, if ``external``, against the checkpoint topic's copy; then make an
    inclusion proof for each of ``event_ids`` (the subject's events, up to MAX_PROOFS), which checks the
    event's row against its checkpoint's signed Merkle root. Needs the store itself (a client), not a
    query endpoint. Returns a JSON-able summary; never raises for a broken log."""
    from pdtrail.integrity import ProofError, prove, public_keys_from_settings, read_external, verify

    compared, note = False, ""
    copies = None
    if external:
        try:
            copies = read_external(settings)
            compared = True
        except PdtrailError as exc:
            note = f"checkpoint topic not compared: {exc}"
    keys = public_keys_from_settings(settings)
    report = verify(client, keys, copies, since=since, until=until)
    if report.checkpoints == 0:
        note = note or "the store has no signed checkpoints for this period"
    proven, waiting, unproven = 0, 0, []
    for event_id in list(event_ids)[:MAX_PROOFS]:
        try:
            prove(client, str(event_id), keys)
            proven += 1
        except ProofError as exc:
            if "not covered by a checkpoint yet" in str(exc):
                waiting += 1  # newer than the last checkpoint: not a fault, the consumer signs it soon
            else:
                unproven.append(str(exc))
    return {
        "checked_at": dt.datetime.now(dt.UTC).isoformat(),
        "ok": report.ok and report.checkpoints > 0 and not unproven,
        "checkpoints": report.checkpoints,
        "rows": report.rows,
        "uncovered_rows": report.uncovered_rows,
        "external_compared": compared,
        "findings": [str(f) for f in report.findings[:50]] + unproven[:50],
        "events_proven": proven,
        "events_unproven": len(unproven),
        "events_awaiting_checkpoint": waiting,
        "note": note,
    }
