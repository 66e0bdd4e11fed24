"""``pdtrail verify``: recompute every checkpoint from the stored rows and name what does not match.

Per partition, in chain order, it checks: the checkpoint is in ClickHouse and in the external topic
and both copies agree; its signature verifies under a known key; it chains onto the previous one;
and the stored rows of its offset range give exactly its offsets, leaves and Merkle root. A row whose
leaf differs is *modified*; an offset the checkpoint lists but the table lacks is *deleted*; a row
the checkpoint does not list is *inserted*; two modified rows that carry each other's leaves are
*reordered*. Rows after the newest checkpoint are reported as not yet covered, not as a failure.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from clickhouse_connect.driver.client import Client

from pdtrail.integrity import _sql
from pdtrail.integrity._canonical import row_leaf
from pdtrail.integrity._checkpoint import Checkpoint, leaf_matches
from pdtrail.integrity._merkle import merkle_root

# Rows whose leaves one query reads: consecutive checkpoints of a partition until they cover this many. A
# partition's offsets are spread over every granule of the log (it is ordered by subject), so each query
# decompresses about the whole table, whatever the range: fewer, larger reads (measured at 1M rows: 24
# reads of 50 checkpoints cost 7.2-7.9 µs CPU a row, 6 reads of a whole partition 6.1-7.1). Held in Python
# as (offset, leaf) pairs: about 130 bytes a row, 65 MB at this bound.
WINDOW_ROWS = 500_000

KINDS = (
    "modified", "deleted", "inserted", "reordered", "checkpoint missing", "checkpoint forged",
    "checkpoint conflict", "chain broken",
)  # fmt: skip


@dataclass(frozen=True)
class Finding:
    kind: str
    topic: str
    partition: int
    detail: str
    seq: int | None = None
    offset: int | None = None
    event_id: str | None = None

    def __str__(self) -> str:
        where = f"{self.topic}[{self.partition}]"
        where += f" checkpoint #{self.seq}" if self.seq is not None else ""
        where += f" offset {self.offset}" if self.offset is not None else ""
        who = f" event {self.event_id}" if self.event_id else ""
        return f"{self.kind}: {where}{who}: {self.detail}"


@dataclass
class VerifyReport:
    partitions: int = 0
    checkpoints: int = 0
    rows: int = 0
    uncovered_rows: int = 0
    retired_rows: int = 0  # signed rows of months a retention run dropped, as it was entitled to
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def add(self, kind: str, at: Checkpoint | tuple[str, int], detail: str, **where: object) -> None:
        topic, partition = (at.topic, at.partition) if isinstance(at, Checkpoint) else at
        if isinstance(at, Checkpoint):
            where.setdefault("seq", at.seq)
        self.findings.append(Finding(kind, topic, partition, detail, **where))  # type: ignore[arg-type]

    def first_per_partition(self) -> list[Finding]:
        seen: dict[tuple[str, int], Finding] = {}
        for finding in self.findings:
            seen.setdefault((finding.topic, finding.partition), finding)
        return list(seen.values())


def _in_period(checkpoint: Checkpoint, since: dt.datetime | None, until: dt.datetime | None) -> bool:
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ"
    if since and checkpoint.max_occurred_at < since.astimezone(dt.UTC).strftime(fmt):
        return False
    return not (until and checkpoint.min_occurred_at >= until.astimezone(dt.UTC).strftime(fmt))


def verify(
    client: Client,
    public_keys: dict[str, bytes],
    external: list[Checkpoint] | None,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
    retention_cutoff: int = 0,
) -> VerifyReport:
    """Verify the whole store (or the checkpoints overlapping a period). ``external`` is the topic's
    copy; None skips the comparison. ``retention_cutoff`` (yyyymm): rows of earlier months may be gone."""
    report = VerifyReport()
    stored: dict[tuple[str, int], list[Checkpoint]] = defaultdict(list)
    for checkpoint in _sql.checkpoints(client):
        stored[(checkpoint.topic, checkpoint.partition)].append(checkpoint)
    witnessed: dict[tuple[str, int], dict[int, list[Checkpoint]]] = defaultdict(lambda: defaultdict(list))
    for checkpoint in external or []:
        copies = witnessed[(checkpoint.topic, checkpoint.partition)][checkpoint.seq]
        if all(c.digest != checkpoint.digest or c.signature != checkpoint.signature for c in copies):
            copies.append(checkpoint)
    partitions = {(r["kafka_topic"], int(r["kafka_partition"])): r for r in _sql.rows(client, "partitions")}
    keys = sorted(set(stored) | set(witnessed) | set(partitions))
    total = sum(max(len(stored.get(k, [])), len(witnessed.get(k, {}))) for k in keys)
    done = 0
    for topic, partition in keys:
        report.partitions += 1
        in_store, outside = stored.get((topic, partition), []), witnessed.get((topic, partition), {})
        chain = _reconcile(topic, partition, in_store, outside, external is not None, report)
        previous: Checkpoint | None = None
        window: list[Checkpoint] = []
        window_rows = 0
        for checkpoint in chain:
            done += 1
            _check_chain(checkpoint, previous, public_keys, report)
            if window and previous is not None and checkpoint.seq != previous.seq + 1:
                # The rows of a lost checkpoint are not "inserted": the missing checkpoint is the finding.
                _check_window(client, window, report, retention_cutoff)
                window, window_rows = [], 0
            previous = checkpoint
            if _in_period(checkpoint, since, until):
                window.append(checkpoint)
                window_rows += checkpoint.leaf_count
            if window and (window_rows >= WINDOW_ROWS or not _in_period(checkpoint, since, until)):
                _check_window(client, window, report, retention_cutoff)
                window, window_rows = [], 0
            if progress:
                progress(done, total)
        if window:
            _check_window(client, window, report, retention_cutoff)
        covered_to = chain[-1].last_offset if chain else -1
        info = partitions.get((topic, partition))
        if info is not None and int(info["max(kafka_offset)"]) > covered_to:
            report.uncovered_rows += _sql.count(client, topic, partition, covered_to + 1, 2**63)
    return report


def _reconcile(
    topic: str,
    partition: int,
    stored: list[Checkpoint],
    witnessed: dict[int, list[Checkpoint]],
    compare: bool,
    report: VerifyReport,
) -> list[Checkpoint]:
    """One chain out of the two copies; every disagreement is a finding."""
    at = (topic, partition)
    by_seq = {c.seq: c for c in stored}
    chain: dict[int, Checkpoint] = dict(by_seq)
    if compare:
        for seq, copies in witnessed.items():
            if len(copies) > 1:
                report.add("checkpoint conflict", at, f"{len(copies)} different copies outside ClickHouse", seq=seq)
            if seq not in by_seq:
                report.add("checkpoint missing", at, "in the external copy, deleted from ClickHouse", seq=seq)
                chain[seq] = copies[0]
            elif all(c.as_dict() != by_seq[seq].as_dict() for c in copies):
                report.add("checkpoint conflict", at, "ClickHouse's copy differs from the external one", seq=seq)
                chain[seq] = copies[0]  # the witness outside the store is the one to trust
        for seq in by_seq:
            if seq not in witnessed:
                report.add("checkpoint missing", at, "in ClickHouse but not in the external copy", seq=seq)
    return [chain[s] for s in sorted(chain)]


def _check_chain(
    checkpoint: Checkpoint, previous: Checkpoint | None, public_keys: dict[str, bytes], report: VerifyReport
) -> None:
    key = public_keys.get(checkpoint.key_id)
    if key is None:
        report.add("checkpoint forged", checkpoint, f"signed by unknown key {checkpoint.key_id}")
    elif not checkpoint.verifies_under(key):
        report.add("checkpoint forged", checkpoint, "signature does not verify")
    if previous is None:
        return
    if checkpoint.seq != previous.seq + 1:
        gone = f"#{previous.seq + 1}..#{checkpoint.seq - 1}"
        report.add("checkpoint missing", checkpoint, f"checkpoints {gone} are gone from both copies")
    elif checkpoint.prev != previous.digest:
        report.add("chain broken", checkpoint, "does not chain onto the previous checkpoint")


def _check_window(client: Client, window: list[Checkpoint], report: VerifyReport, retention_cutoff: int) -> None:
    """Consecutive checkpoints of one partition, checked against one read of their rows' leaves (computed
    by the engine). A row in the gap between two checkpoints (where a dead-lettered offset left no row)
    belongs to neither: inserted."""
    first, last = window[0], window[-1]
    # Before the partition's first checkpoint there is no place for a row either (its first offsets may have
    # been dead-lettered): read from offset 0 so that such a row is seen, and named inserted.
    start = 0 if first.seq == 0 else first.first_offset
    rows = _sql.offset_leaves(client, first.topic, first.partition, start, last.last_offset)
    report.rows += len(rows)
    report.checkpoints += len(window)
    position = 0
    for checkpoint in window:
        begin = position
        while position < len(rows) and rows[position][0] < checkpoint.first_offset:
            position += 1
        if position > begin:  # rows no checkpoint can hold: read again with their event ids, to name them
            for offset, _, _, event_id in _sql.leaves(
                client, checkpoint.topic, checkpoint.partition, rows[begin][0], rows[position - 1][0]
            ):
                report.add("inserted", checkpoint, "a row between two checkpoints, or before the first",
                           offset=offset, event_id=event_id)  # fmt: skip
        begin = position
        while position < len(rows) and rows[position][0] <= checkpoint.last_offset:
            position += 1
        if not _intact(checkpoint, rows[begin:position]):
            segment = _sql.leaves(client, checkpoint.topic, checkpoint.partition, checkpoint.first_offset,
                                  checkpoint.last_offset)  # fmt: skip
            _check_rows(client, checkpoint, segment, report, retention_cutoff)


def _intact(checkpoint: Checkpoint, rows: list[tuple[int, bytes]]) -> bool:
    """The common case, decided without a per-row dict: one row at each offset the checkpoint lists, in its
    order, each with its signed leaf prefix, together giving its root. Anything else is looked at row by
    row (``_check_rows``), which names what differs."""
    if not rows or len(rows) != checkpoint.leaf_count or [offset for offset, _ in rows] != checkpoint.offsets:
        return False
    leaves = [leaf for _, leaf in rows]
    width = len(checkpoint.leaf_prefixes[0]) // 2  # as signed: 8 bytes before 4 became the default
    if [leaf[:width].hex() for leaf in leaves] != checkpoint.leaf_prefixes:
        return False
    return merkle_root(leaves).hex() == checkpoint.root


def _check_rows(
    client: Client, checkpoint: Checkpoint, rows: list[tuple[int, bytes, str, str]], report: VerifyReport,
    retention_cutoff: int,
) -> None:  # fmt: skip
    expected = dict(zip(checkpoint.offsets, checkpoint.leaf_prefixes, strict=True))
    # leaf_matches for every row, with the prefix length worked out once per checkpoint (it is one length per
    # checkpoint: the one it was signed with), as this loop runs for every row of the log.
    width = len(checkpoint.leaf_prefixes[0]) // 2 if checkpoint.leaf_prefixes else 0
    by_offset: dict[int, list[tuple[bytes, str]]] = defaultdict(list)
    for offset, leaf, _, event_id in rows:
        by_offset[offset].append((leaf, event_id))
    leaves: dict[int, bytes] = {}
    modified: list[tuple[int, str]] = []
    for offset, found in sorted(by_offset.items()):
        want = expected.get(offset)
        genuine = next((i for i, (leaf, _) in enumerate(found) if want and leaf[:width].hex() == want), None)
        for i, (leaf, event_id) in enumerate(found):
            if i == genuine:
                leaves[offset] = leaf
            elif want is None or genuine is not None:
                report.add("inserted", checkpoint, "a row no checkpoint lists", offset=offset, event_id=event_id)
            else:
                modified.append((offset, event_id))
    swapped = _swapped(client, checkpoint, modified, expected)
    for offset, event_id in modified:
        if offset in swapped:
            report.add("reordered", checkpoint, "holds another row's content", offset=offset, event_id=event_id)
        else:
            report.add("modified", checkpoint, "differs from what was signed", offset=offset, event_id=event_id)
    for offset, month in zip(checkpoint.offsets, checkpoint.months, strict=True):
        if offset in by_offset:
            continue
        if month < retention_cutoff:
            report.retired_rows += 1
        else:
            report.add("deleted", checkpoint, "listed by the checkpoint, gone from the table", offset=offset)
    complete = len(leaves) == checkpoint.leaf_count and not modified  # (retired rows: the root cannot be recomputed)
    if complete and merkle_root([leaves[o] for o in checkpoint.offsets]).hex() != checkpoint.root:
        report.add("modified", checkpoint, "the rows do not give the signed Merkle root")


def _swapped(
    client: Client, checkpoint: Checkpoint, modified: list[tuple[int, str]], expected: dict[int, str]
) -> set[int]:
    """Offsets holding a row that is intact but belongs at another modified offset: moved, not edited."""
    if len(modified) < 2:
        return set()
    offsets = sorted({offset for offset, _ in modified})
    rows = _sql.rows_at(client, checkpoint.topic, checkpoint.partition, offsets[0], offsets[-1], offsets)
    moved = set()
    for row in rows:
        offset = int(row["kafka_offset"])
        for other in offsets:
            if other != offset and leaf_matches(row_leaf({**row, "kafka_offset": other}), expected[other]):
                moved.add(offset)
    return moved
