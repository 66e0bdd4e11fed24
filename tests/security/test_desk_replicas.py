"""Stateless subject references with two real desk processes over one store (the first owns the embedded
store and consumes; the second asks it): a reference issued by one is answered by the other, and by
that one again after a restart and a key rotation; a changed, cut, expired or other-identity reference
is refused with the API's 404."""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path

import httpx
import pytest

from pdtrail.config import Settings
from pdtrail.desk._refs import RefKeys, Sealed
from pdtrail.producers import AuditEmitter
from pdtrail.simulate import simulate_company
from tests.security._processes import Tokens, desk_answers, start, stop, wait_until


def _key_file(path: Path, current: str, keys: dict[str, bytes]) -> Path:
    path.write_text(
        json.dumps({"current": current, "keys": {k: base64.b64encode(v).decode() for k, v in keys.items()}})
    )
    os.chmod(path, 0o600)
    return path


def test_a_reference_from_one_desk_is_answered_by_another_and_survives_a_restart(
    pipeline: Settings, tmp_path: Path
) -> None:
    journeys = list(simulate_company(3, seed=91))
    with AuditEmitter(pipeline) as emitter:
        for _, event in journeys:
            emitter.emit(event)
        assert emitter.flush(30) == 0
    subject = journeys[0][0].personnummer
    tokens = Tokens.make()
    old_key, new_key = os.urandom(32), os.urandom(32)
    keys = _key_file(tmp_path / "ref-keys.json", "k1", {"k1": old_key})
    env = {"PDTRAIL_DESK__TOKENS": tokens.entries, "PDTRAIL_DESK__REF_KEYS_FILE": str(keys)}
    home, store = tmp_path / "home", tmp_path / "store"
    first = start("desk", pipeline, home, store, tmp_path / "first.log", **env)
    second = None
    try:
        desk_answers(first, tokens)
        ref = httpx.post(f"{first.url}/api/v1/subjects", json={"identifier": subject}, headers=tokens.bearer(),
                         timeout=30).json()["subject"]  # fmt: skip
        emitted = {str(e.event_id) for s, e in journeys if s is journeys[0][0]}

        def consumed() -> list[dict] | None:
            # Every event of the subject, not merely some: a batch boundary may split them.
            items = httpx.get(f"{first.url}/api/v1/subjects/{ref}/timeline", headers=tokens.bearer(), timeout=30)
            found = items.json()["items"]
            return found if emitted <= {i["event_id"] for i in found} else None

        expected = wait_until(consumed, "the first desk has consumed the subject's events", first)
        second = start("desk", pipeline, home, store, tmp_path / "second.log", **env)
        desk_answers(second, tokens)
        assert "asking the store's owner" in second.output()  # one store: the second desk asks the first

        def timeline(url: str, reference: str, role: str = "dpo") -> httpx.Response:
            return httpx.get(f"{url}/api/v1/subjects/{reference}/timeline", headers=tokens.bearer(role), timeout=30)

        answered = timeline(second.url, ref)
        assert answered.status_code == 200, answered.text
        assert [i["event_id"] for i in answered.json()["items"]][: len(expected)] == [i["event_id"] for i in expected]

        # Refused by the replica: changed, cut, lengthened, another identity's, expired.
        middle = len(ref) // 2
        changed = ref[:middle] + ("A" if ref[middle] != "A" else "B") + ref[middle + 1 :]
        sealer = RefKeys.load(keys)
        opened = sealer.open(ref)
        expired = sealer.seal(Sealed(opened.keys, opened.subject, opened.kind, opened.owner, opened.purpose,
                                     time.time() - 1))  # fmt: skip
        for refused, role in ((changed, "dpo"), (ref[:-3], "dpo"), (ref + "AAAA", "dpo"), (ref, "auditor"),
                              (expired, "dpo")):  # fmt: skip
            answer = timeline(second.url, refused, role)
            assert answer.status_code == 404, (refused == ref, role, answer.text)
            assert answer.json()["error"]["code"] == "not_found"
        # What the key holder seals with a future expiry does open: the refusal above was the expiry's.
        renewed = sealer.seal(Sealed(opened.keys, opened.subject, opened.kind, opened.owner, opened.purpose,
                                     time.time() + 60))  # fmt: skip
        assert timeline(second.url, renewed).status_code == 200

        # Rotation: k2 becomes current, k1 stays to open what it sealed; the second desk restarts on it.
        assert stop(second) == 0
        _key_file(keys, "k2", {"k2": new_key, "k1": old_key})
        second = start("desk", pipeline, home, store, tmp_path / "second.log", **env)
        desk_answers(second, tokens)
        assert timeline(second.url, ref).status_code == 200  # open cases survive the restart and the rotation
        # The raw identifier never left the first desk: the second names the subject by key in a report
        # (until it is given the identifier itself).
        report = httpx.get(f"{second.url}/api/v1/subjects/{ref}/reports/access", headers=tokens.bearer(), timeout=60)
        assert report.status_code == 200
        assert subject not in report.text and f"{subject[:8]}-{subject[8:]}" not in report.text
        assert report.json()["subject"]["identifier"].startswith("pseudonymous key")
        fresh = httpx.post(f"{second.url}/api/v1/subjects", json={"identifier": subject}, headers=tokens.bearer(),
                           timeout=30).json()["subject"]  # fmt: skip
        assert RefKeys("k2", {"k2": new_key}).open(fresh).owner == "dpo-anna"  # sealed under the new key
        assert timeline(first.url, fresh).status_code == 404  # the first desk holds k1 only until it restarts
        here = httpx.get(f"{first.url}/api/v1/subjects/{ref}/reports/access", headers=tokens.bearer(), timeout=60)
        assert here.json()["subject"]["identifier"].replace("-", "") == subject
    finally:
        if second is not None:
            stop(second)
        assert stop(first) == 0


@pytest.fixture
def pipeline(settings: Settings) -> Settings:
    from pdtrail.infra import ensure_topics

    ensure_topics(settings)
    return settings
