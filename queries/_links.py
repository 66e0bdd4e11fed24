"""The linked set of a data subject: every key reachable over identifier links, as they stood at a moment.

A service keys events by the identifier it holds (a personnummer, a customer id, an e-mail); link events
(``subject.identifiers_linked`` / ``_unlinked``) say two of those keys are one person. A per-subject answer
covers the closure of the searched keys over the links in force at the period's end: for each pair of keys
the latest link or unlink event before ``until`` decides, so a link made after the period does not count
and an unlink before its end removes the link. Cycles are harmless (a key is visited once). The set is
bounded (:data:`MAX_LINKED_KEYS`): past it the answer says so rather than read without end.

The SDK writes every link in both directions (each key's own range holds it), so a round of the walk is
one lookup by ``subject_key``, the log's order; the walk takes a few rounds for a chain of identifiers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_LINKED_KEYS = 64
LINKED, UNLINKED = "subject.identifiers_linked", "subject.identifiers_unlinked"
LINK_TYPES = [LINKED, UNLINKED]


@dataclass(frozen=True)
class LinkRow:
    """One link or unlink event as the walk reads it."""

    subject_key: str
    subject_kind: str
    linked_key: str
    linked_kind: str
    event_type: str
    occurred_at: Any  # ordered: a datetime from the store
    event_id: str


@dataclass
class LinkedSet:
    """The keys to ask with, and for each key how it was found: '' for the searched identifier's own keys,
    else '<kind> via link <event id>'. ``bounded``: the closure reached :data:`MAX_LINKED_KEYS` and stopped."""

    found_via: dict[str, str] = field(default_factory=dict)
    bounded: bool = False

    @property
    def keys(self) -> list[str]:
        return list(self.found_via)

    def params(self) -> dict[str, list[str]]:
        """What a query's found_via column is computed from (``transform(subject_key, via_keys, via_labels, '')``)."""
        return {"via_keys": list(self.found_via), "via_labels": list(self.found_via.values())}


def close_links(
    start: Sequence[str],
    fetch: Callable[[list[str]], Sequence[LinkRow]],
    *,
    bound: int = MAX_LINKED_KEYS,
    page: int | None = None,
) -> LinkedSet:
    """The closure of ``start`` over the links ``fetch(keys)`` returns (every link or unlink event whose
    subject key is among ``keys``, already limited to the period's end). ``page``: the most rows one
    fetch returns; a full one may have left links out, so the answer says it is bounded."""
    result = LinkedSet({key: "" for key in start})
    latest: dict[frozenset[str], LinkRow] = {}
    frontier = list(result.found_via)
    asked: set[str] = set()
    while frontier:
        asked.update(frontier)
        rows = fetch(frontier)
        if page is not None and len(rows) >= page:
            result.bounded = True
        for row in rows:
            pair = frozenset((row.subject_key, row.linked_key))
            seen = latest.get(pair)
            if seen is None or (row.occurred_at, row.event_id) > (seen.occurred_at, seen.event_id):
                latest[pair] = row
        frontier = []
        for pair, row in sorted(latest.items(), key=lambda item: (item[1].occurred_at, item[1].event_id)):
            if row.event_type != LINKED:
                continue
            for key in pair:
                if key in result.found_via:
                    continue
                if len(result.found_via) >= bound:
                    result.bounded = True
                    return result
                kind = row.linked_kind if key == row.linked_key else row.subject_kind
                result.found_via[key] = f"{kind} via link {row.event_id}"
                frontier.append(key)
        frontier = [k for k in frontier if k not in asked]
    return result


def rows_of(result: Any) -> list[LinkRow]:
    """The rows of the ``subject_links`` query. The subject key is a FixedString, which the embedded store
    hands back as bytes: read as text, as the keys asked with are, so that the walk knows a key it has
    asked about (as bytes the searched keys came back as new keys, each asked about again and counted twice
    against :data:`MAX_LINKED_KEYS`)."""
    return [LinkRow(key_text(row[0]), *row[1:]) for row in result.rows]


def key_text(value: Any) -> Any:
    """A subject key as text (the embedded store gives FixedString columns as bytes)."""
    return value.decode() if isinstance(value, bytes) else value
