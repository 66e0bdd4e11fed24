"""Errors of the ingest side."""

from __future__ import annotations

from pdtrail.errors import PdtrailError, RetryableError


class DeadLetterError(PdtrailError):
    """A message could not be written to the dead-letter topic; its offset is not committed."""

    def __init__(self, topic: str, partition: int, offset: int, reason: str) -> None:
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.reason = reason
        super().__init__(f"dead letter for {topic}[{partition}]@{offset} not delivered: {reason}")


class StoreWriteError(RetryableError):
    """An insert into ClickHouse failed; the batch stays uncommitted and is retried."""

    def __init__(self, topic: str, partition: int, first_offset: int, last_offset: int, reason: str) -> None:
        self.topic = topic
        self.partition = partition
        self.first_offset = first_offset
        self.last_offset = last_offset
        self.reason = reason
        super().__init__(f"insert of {topic}[{partition}]@{first_offset}-{last_offset} failed: {reason}")
