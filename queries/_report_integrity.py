"""The integrity section of a complaint response: ``pdtrail verify`` over the subject's period."""

from __future__ import annotations

import datetime as dt
from typing import Any

from clickhouse_connect.driver.client import Client

from pdtrail.config import Settings
from pdtrail.errors import PdtrailError


def integrity_check(
    settings: Settings, client: Client, since: dt.datetime | None, until: dt.datetime | None, *, external: bool = True
) -> dict[str, Any]:
    """Verify the signed checkpoints whose events overlap the period (the subject's events among them)
    against the stored rows, and, if ``external``, against the checkpoint topic's copy. Needs the store
    itself (a client), not a query endpoint. Returns a JSON-able summary; never raises for a broken log."""
    from pdtrail.integrity import public_keys_from_settings, read_external, verify

    compared, note = False, ""
    copies = None
    if external:
        try:
            copies = read_external(settings)
            compared = True
        except PdtrailError as exc:
            note = f"checkpoint topic not compared: {exc}"
    report = verify(client, public_keys_from_settings(settings), copies, since=since, until=until)
    if report.checkpoints == 0:
        note = note or "the store has no signed checkpoints for this period"
    return {
        "checked_at": dt.datetime.now(dt.UTC).isoformat(),
        "ok": report.ok and report.checkpoints > 0,
        "checkpoints": report.checkpoints,
        "rows": report.rows,
        "uncovered_rows": report.uncovered_rows,
        "external_compared": compared,
        "findings": [str(f) for f in report.findings[:50]],
        "note": note,
    }
