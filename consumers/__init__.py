"""Ingest: Kafka → ClickHouse, exactly once, with a dead-letter path.

    consumer = AuditConsumer(settings, pdtrail.store.connect(settings))
    consumer.run(drain=True)   # or run() until consumer.stop()

The SQL it runs sits beside it (``positions.sql``); the table comes from infra's migrations.
"""

from pdtrail.consumers._consumer import AuditConsumer, ConsumeStats
from pdtrail.consumers._dead_letter import HEADER_PREFIX as DEAD_LETTER_HEADER_PREFIX
from pdtrail.consumers._rows import COLUMNS, LATER_COLUMNS
from pdtrail.consumers.exceptions import DeadLetterError, StoreWriteError

__all__ = [
    "COLUMNS",
    "DEAD_LETTER_HEADER_PREFIX",
    "LATER_COLUMNS",
    "AuditConsumer",
    "ConsumeStats",
    "DeadLetterError",
    "StoreWriteError",
]
