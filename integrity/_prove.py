"""``pdtrail prove <event-id>``: a small JSON proof that an event is in the log as of a signed checkpoint.

The proof carries the event's canonical stored form, its leaf index, the Merkle inclusion path, the
checkpoint and the signer's public key; ``integrity/verify_proof.py`` checks it offline.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

from clickhouse_connect.driver.client import Client

from pdtrail.integrity import _sql
from pdtrail.integrity._canonical import canonical_row
from pdtrail.integrity._merkle import inclusion_path
from pdtrail.integrity.exceptions import ProofError
from pdtrail.integrity.verify_proof import check_proof

PROOF_VERSION = 1


def prove(client: Client, event_id: str, public_keys: dict[str, bytes]) -> dict[str, Any]:
    try:
        wanted = uuid.UUID(event_id)
    except ValueError:
        raise ProofError(f"not an event id (a UUID): {event_id[:64]!r}") from None
    found = _sql.find_event(client, str(wanted))
    if not found:
        raise ProofError(f"no stored event {wanted}")
    if len(found) > 1:
        raise ProofError(f"event {wanted} is stored twice: run `pdtrail verify`")
    row = found[0]
    topic, partition, offset = row["kafka_topic"], int(row["kafka_partition"]), int(row["kafka_offset"])
    checkpoint = next(
        iter(_sql.checkpoints(client, "covering_checkpoint", topic=topic, partition=partition, offset=offset)), None
    )
    if checkpoint is None:
        raise ProofError(f"event {wanted} is not covered by a checkpoint yet (the consumer cuts one soon)")
    segment = _sql.leaves(client, topic, partition, checkpoint.first_offset, checkpoint.last_offset)
    leaves = {offset: leaf for offset, leaf, _, _ in segment}
    if set(leaves) != set(checkpoint.offsets):
        raise ProofError(f"the rows of checkpoint #{checkpoint.seq} were altered: run `pdtrail verify`")
    key = public_keys.get(checkpoint.key_id)
    if key is None:
        raise ProofError(f"the public key {checkpoint.key_id} that signed the checkpoint is not configured")
    index = checkpoint.offsets.index(offset)
    proof = {
        "version": PROOF_VERSION,
        "event": canonical_row(row),
        "index": index,
        "size": checkpoint.leaf_count,
        "path": [h.hex() for h in inclusion_path([leaves[o] for o in checkpoint.offsets], index)],
        "checkpoint": checkpoint.as_dict(),
        "public_key": base64.b64encode(key).decode(),
    }
    failure = check_proof(proof, key)
    if failure:
        raise ProofError(f"the stored log does not support a proof ({failure}): run `pdtrail verify`")
    return proof
