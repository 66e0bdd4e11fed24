"""A local Apache Kafka broker in KRaft mode, from the jars that infra/kafka/pom.xml resolves.

Used by ``pdtrail broker``, the demo and the test fixtures. Data, log and pid file live in one
directory (default ``<home>/kafka``), so a broker is found again by the next command.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka.admin import AdminClient

from pdtrail._files import PRIVATE_UMASK, private_dir
from pdtrail._process import pid_alive
from pdtrail.errors import PdtrailError, RetryableError

KAFKA_DIR = Path(__file__).parent / "kafka"
LIB_DIR = KAFKA_DIR / "lib"


class BrokerError(PdtrailError):
    """The local broker could not be set up, started or stopped; ``log`` names its log file."""

    def __init__(self, message: str, log: Path | None = None) -> None:
        self.log = log
        super().__init__(message + (f" (see {log})" if log else ""))


def ensure_jars(progress: bool = False) -> Path:
    """Resolve the broker's jars from Maven Central into infra/kafka/lib once; returns that directory."""
    if any(LIB_DIR.glob("kafka_2.13-*.jar")):
        return LIB_DIR
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError("Maven (mvn) is not installed; run `make setup` or install the maven package")
    command = [mvn, "-B", "-f", str(KAFKA_DIR / "pom.xml"), "dependency:copy-dependencies"]
    if not progress:
        command.insert(2, "-q")
    done = subprocess.run(command, capture_output=not progress, text=True, check=False)
    if done.returncode != 0 or not any(LIB_DIR.glob("kafka_2.13-*.jar")):
        raise BrokerError(f"resolving the Kafka jars failed:\n{(done.stdout or '')[-2000:]}")
    return LIB_DIR


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java:
        raise BrokerError("Java 17 or later is needed for the Kafka broker; run `make setup`")
    return java


@dataclass
class LocalBroker:
    """One KRaft node (broker and controller) listening on 127.0.0.1:``port``."""

    data_dir: Path
    port: int = 9092
    controller_port: int = 9093
    node_id: int = 1
    heap: str = "512m"

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "broker.log"

    @property
    def _pid_file(self) -> Path:
        return self.data_dir / "broker.pid"

    @property
    def _config_file(self) -> Path:
        return self.data_dir / "server.properties"

    def _classpath(self) -> str:
        return f"{ensure_jars()}/*"

    def _java_command(self, main_class: str, *args: str) -> list[str]:
        return [
            _java(), f"-Xmx{self.heap}", "-Xms128m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={KAFKA_DIR / 'log4j2.yaml'}",
            "-cp", self._classpath(), main_class, *args,
        ]  # fmt: skip

    def pid(self) -> int | None:
        try:
            pid = int(self._pid_file.read_text())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def is_running(self) -> bool:
        return self.pid() is not None

    def format(self) -> None:
        """Write the config and format the storage, once (a formatted directory is left as it is)."""
        private_dir(self.data_dir)  # the log segments hold the events: the owner's alone
        log_dir = self.data_dir / "data"
        template = (KAFKA_DIR / "server.properties").read_text()
        self._config_file.write_text(
            template.format(node_id=self.node_id, port=self.port, controller_port=self.controller_port, log_dir=log_dir)
        )
        if (log_dir / "meta.properties").exists():
            return
        # Base64url may begin with "-": passed as --cluster-id=…, it cannot be taken for an option.
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        command = self._java_command(
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            f"--cluster-id={cluster_id}",
            "-c",
            str(self._config_file),
        )
        done = subprocess.run(command, capture_output=True, text=True, check=False, umask=PRIVATE_UMASK)
        if done.returncode != 0:
            raise BrokerError(f"formatting the broker storage failed: {done.stdout[-1500:]}{done.stderr[-1500:]}")

    def start(self, wait_s: float = 90.0) -> None:
        """Start in the background and wait until it answers; a running broker is left alone."""
        if self.is_running():
            return
        self.format()
        with open(self.log_file, "ab") as log:
            process = subprocess.Popen(
                self._java_command("kafka.Kafka", str(self._config_file)),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in the terminal that started it must not kill it
                umask=PRIVATE_UMASK,  # the JVM writes segments and snapshots: none readable by others
            )
        self._pid_file.write_text(str(process.pid))
        deadline = time.monotonic() + wait_s
        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers, "log_level": 0})
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise BrokerError(f"the broker exited with code {process.returncode}", self.log_file)
            try:
                admin.list_topics(timeout=1.0)
                return
            except Exception:
                time.sleep(0.5)
        self.stop()
        raise RetryableError(f"the broker did not answer within {wait_s:.0f}s (see {self.log_file})")

    def stop(self, timeout_s: float = 30.0) -> bool:
        """Stop gracefully (SIGTERM), then forcefully; returns False if no broker was running."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and pid_alive(pid):
            _reap(pid)
            time.sleep(0.2)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
            _reap(pid)
        self._pid_file.unlink(missing_ok=True)
        return True

    def kill(self) -> None:
        """SIGKILL, for fault tests: the broker gets no chance to shut down cleanly."""
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            _reap(pid)


def _reap(pid: int) -> None:
    # The broker is our child when this process started it; collect it so it does not linger as a zombie.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
