"""The engine's check of a row's texts against the identifier detector: the consumer's fast path lets a row
through only where ``match(text, MAYBE_IDENTIFIER_SQL)`` is false, so that RE2 pattern must match wherever
the detector's own quick search does (and so wherever the detector finds an identifier in clear).

ClickHouse's RE2 runs in a child process (chDB keeps one engine per process; this tier's other tests
open stores of their own), once per generated list of texts.
"""

from __future__ import annotations

import json
import string
import subprocess
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pdtrail.consumers._columnar_sql import MAYBE_IDENTIFIER_SQL
from pdtrail.schemas._clear_identifiers import identifier_in_clear, quick_search

from ._identifier_spellings import hidden_emails, hidden_numbers

_CHILD = r"""
import json, sys
import chdb

asks = json.load(sys.stdin)
texts = ", ".join(f"unhex('{t}')" for t in asks["texts"])
out = chdb.query(f"SELECT arrayMap(x -> match(x, '{asks['pattern']}'), [{texts}])", "JSONCompact").data()
json.dump(json.loads(out)["data"][0][0], sys.stdout)
"""


def _engine_matches(texts: list[str]) -> list[bool]:
    asks = {"pattern": MAYBE_IDENTIFIER_SQL, "texts": [t.encode().hex() for t in texts]}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD], input=json.dumps(asks), capture_output=True, text=True, timeout=120, check=True
    )
    return [bool(m) for m in json.loads(done.stdout)]


_texts = st.one_of(
    hidden_numbers().map(lambda s: s.text),
    hidden_emails().map(lambda s: s.text),
    st.text(
        st.sampled_from([*string.ascii_letters, *string.digits, *" -_./:#+@", "å", "ö", "é", "\u200b"]), max_size=40
    ),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=30),
    st.from_regex(r"[a-z][a-z0-9_]{0,20}(\.[a-z0-9_]{1,10}){0,2}", fullmatch=True),  # ids, roles, purposes
)


@settings(
    max_examples=6, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.large_base_example, HealthCheck.too_slow, HealthCheck.data_too_large],
)  # fmt: skip
@given(st.lists(_texts, min_size=150, max_size=150))
def test_the_engine_flags_exactly_what_the_quick_search_flags(texts: list[str]) -> None:
    engine = _engine_matches(texts)
    for text, flagged in zip(texts, engine, strict=True):
        assert flagged == (quick_search(text) is not None), ascii(text)
        if identifier_in_clear(text) is not None:
            assert flagged, ascii(text)
