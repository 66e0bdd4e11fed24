"""The SDK as a service installs it: the wheel, in a clean virtual environment, without extras, emitting
to the real broker. pip fetches the SDK's dependencies (PyPI, or pip's cache)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from pdtrail.config import Settings
from pdtrail.schemas import EventCodec
from tests.integration.helpers import read_topic

ROOT = Path(__file__).parents[2]

_EMIT = """
import importlib.util, json, sys
from pdtrail.producers import AuditEmitter
from pdtrail.simulate import simulate_company
events = [e for _, e in simulate_company(3, seed=19)][:10]
with AuditEmitter() as audit:
    ids = [str(audit.emit(e)) for e in events]
    left = audit.flush(30)
server = ["chdb", "clickhouse_connect", "fastapi", "reportlab", "rich", "uvicorn"]
print(json.dumps({"ids": ids, "left": left, "installed": [m for m in server if importlib.util.find_spec(m)]}))
"""


@pytest.fixture(scope="module")
def sdk_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    scratch = tmp_path_factory.mktemp("sdk-wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(scratch / "wheels"), str(ROOT)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    wheel = next((scratch / "wheels").glob("pdtrail-*.whl"))
    venv.EnvBuilder(with_pip=True).create(scratch / "venv")
    python = str(scratch / "venv" / "bin" / "python")
    installed = subprocess.run(
        [python, "-m", "pip", "install", "-q", str(wheel)], capture_output=True, text=True, timeout=900
    )
    if installed.returncode != 0:
        pytest.fail(f"pip could not install the SDK wheel: {installed.stderr[-2000:]}")
    return python


def test_the_sdk_wheel_alone_emits_to_the_broker(sdk_python: str, pipeline: Settings, tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PDTRAIL_HOME": str(tmp_path / "home"),
        "PDTRAIL_KAFKA__BOOTSTRAP_SERVERS": pipeline.kafka.bootstrap_servers,
        "PDTRAIL_KAFKA__TOPIC": pipeline.kafka.topic,
        "PDTRAIL_PSEUDONYM__SECRET": pipeline.pseudonym.secrets()[pipeline.pseudonym.key_version].decode(),
    }
    done = subprocess.run([sdk_python, "-c", _EMIT], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["installed"] == []  # none of the server parts came with the SDK
    assert report["left"] == 0 and len(report["ids"]) == 10
    codec = EventCodec()
    received = [str(codec.decode(m.value()).event_id) for m in read_topic(pipeline, pipeline.kafka.topic, 10)]
    assert sorted(received) == sorted(report["ids"])


def test_the_command_without_the_server_extra_says_what_to_install(sdk_python: str, tmp_path: Path) -> None:
    done = subprocess.run([sdk_python, "-m", "pdtrail", "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2 and "pdtrail[server]" in done.stderr
