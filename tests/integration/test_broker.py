"""The local broker's storage formats whatever cluster id it draws."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

import pytest

import pdtrail.infra._broker as broker_module
from pdtrail.infra import LocalBroker
from tests.conftest import free_port


def test_a_cluster_id_starting_with_a_dash_is_not_taken_for_an_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Base64url ids begin with '-' one time in 64; the first CI run that drew one failed to format."""
    dashed = uuid.UUID(bytes=base64.urlsafe_b64decode("-" + "A" * 21 + "=="))
    monkeypatch.setattr(broker_module.uuid, "uuid4", lambda: dashed)
    node = LocalBroker(tmp_path, port=free_port(), controller_port=free_port())
    node.format()
    meta = (tmp_path / "data" / "meta.properties").read_text()
    assert "cluster.id=-AAAA" in meta
