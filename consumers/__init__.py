"""Ingest: Kafka → ClickHouse, exactly once, with a dead-letter path.

    consumer = AuditConsumer(settings, pdtrail.store.connect(settings))
    consumer.run(drain=True)   # or run() until consumer.stop()
    read_dead_letters(settings); redrive(settings)   # the DLQ, after a fix

The SQL it runs sits beside it (``positions.sql``); the table comes from infra's migrations.
"""

from pdtrail.consumers._consumer import AuditConsumer, ConsumeStats
from pdtrail.consumers._dead_letter import HEADER_PREFIX as DEAD_LETTER_HEADER_PREFIX
from pdtrail.consumers._metrics import ConsumerMetrics
from pdtrail.consumers._redrive import DeadLetter, RedriveResult, read_dead_letters, redrive
from pdtrail.consumers._rows import COLUMNS, LATER_COLUMNS
from pdtrail.consumers.exceptions import DeadLetterError, StoreWriteError

__all__ = [
    "COLUMNS",
    "DEAD_LETTER_HEADER_PREFIX",
    "LATER_COLUMNS",
    "AuditConsumer",
    "ConsumeStats",
    "ConsumerMetrics",
    "DeadLetter",
    "DeadLetterError",
    "RedriveResult",
    "StoreWriteError",
    "read_dead_letters",
    "redrive",
]
