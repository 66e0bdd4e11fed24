"""Fixtures of the unit tier: no broker, no store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pdtrail.producers import Pseudonymiser
from pdtrail.schemas import EventCodec

from ._factories import pseudonymiser


@pytest.fixture
def pseudo() -> Pseudonymiser:
    return pseudonymiser()


@pytest.fixture(scope="session")
def codec() -> EventCodec:
    return EventCodec()


@pytest.fixture
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No PDTRAIL_* variables and no pdtrail.toml: settings come from the test alone."""
    for name in list(os.environ):
        if name.startswith("PDTRAIL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path
