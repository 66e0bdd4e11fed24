"""Desk and serve processes for the security tier: started as a user starts them, polled until they
answer (never a fixed sleep), stopped by a signal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from pdtrail.config import Settings
from pdtrail.desk import new_token
from tests.conftest import cli_env, free_port


@dataclass
class Tokens:
    entries: str  # the PDTRAIL_DESK__TOKENS value
    by_role: dict[str, str]

    @classmethod
    def make(cls) -> Tokens:
        by_role, entries = {}, []
        for role, identity in (("dpo", "dpo-anna"), ("auditor", "auditor-bo")):
            token, entry = new_token(identity, role)
            by_role[role] = token
            entries.append(entry.model_dump())
        return cls(json.dumps(entries), by_role)

    def bearer(self, role: str = "dpo") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.by_role[role]}"}


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def start(command: str, settings: Settings, home: Path, store: Path, log: Path, **env: str) -> Running:
    port = free_port()
    environment = cli_env(settings, home, store, **env)
    args = [sys.executable, "-m", "pdtrail", command] + (["--port", str(port)] if command == "desk" else [])
    with log.open("ab") as out:
        process = subprocess.Popen(args, env=environment, stdout=out, stderr=subprocess.STDOUT)
    return Running(process, f"http://127.0.0.1:{port}", log)


def wait_until(check: Any, what: str, running: Running, timeout_s: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise AssertionError(f"{what}: the process exited with {running.process.returncode}:\n{running.output()}")
        try:
            found = check()
        except (httpx.HTTPError, KeyError, ValueError):
            found = None
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout_s}s:\n{running.output()}")


def desk_answers(running: Running, tokens: Tokens) -> None:
    wait_until(
        lambda: httpx.get(f"{running.url}/api/v1/whoami", headers=tokens.bearer(), timeout=5).status_code == 200,
        "the desk answers", running,
    )  # fmt: skip


def stop(running: Running, signum: int = signal.SIGTERM, timeout_s: float = 120.0) -> int:
    if running.process.poll() is None:
        os.kill(running.process.pid, signum)
    try:
        return running.process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        running.process.kill()
        running.process.wait(10)
        raise AssertionError(f"not stopped {timeout_s}s after signal {signum}:\n{running.output()}") from None


def pdtrail(settings: Settings, home: Path, store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pdtrail", *args], env=cli_env(settings, home, store), capture_output=True, text=True,
        timeout=180,
    )  # fmt: skip
