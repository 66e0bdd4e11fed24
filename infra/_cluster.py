"""A three-node Apache Kafka (KRaft) cluster on loopback, for fault tests and for trying failover locally.

Every node is broker and controller (a static quorum of three voters), topics get three replicas and
need two in sync to acknowledge a write (``infra/kafka/cluster.properties``), so killing any one node
loses no acknowledged event. Each node is a :class:`LocalBroker` with its own directory under
``data_dir``; ``cluster.json`` there remembers the ports and the cluster id, so ``pdtrail cluster
stop`` finds a cluster that ``pdtrail cluster start`` left running.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient

from pdtrail.errors import RetryableError
from pdtrail.infra._broker import KAFKA_DIR, BrokerError, LocalBroker

NODES = 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ClusterNode(LocalBroker):
    """One voter of the cluster: a LocalBroker formatted for the shared static quorum."""

    voters: str = ""
    cluster_id: str = ""

    def format(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log_dir = self.data_dir / "data"
        template = (KAFKA_DIR / "cluster.properties").read_text()
        self._config_file.write_text(
            template.format(
                node_id=self.node_id, port=self.port, controller_port=self.controller_port,
                log_dir=log_dir, voters=self.voters,
            )
        )  # fmt: skip
        if (log_dir / "meta.properties").exists():
            return
        command = self._java_command(
            "kafka.tools.StorageTool", "format", f"--cluster-id={self.cluster_id}", "-c", str(self._config_file)
        )
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BrokerError(f"formatting node {self.node_id} failed: {done.stdout[-1500:]}{done.stderr[-1500:]}")

    def launch(self) -> None:
        """Start the JVM and return at once: a voter cannot answer before a majority of the quorum is up."""
        if self.is_running():
            return
        self.format()
        with open(self.log_file, "ab") as log:
            process = subprocess.Popen(
                self._java_command("kafka.Kafka", str(self._config_file)),
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        self._pid_file.write_text(str(process.pid))


class LocalCluster:
    """Three KRaft nodes on 127.0.0.1 (RF 3, min.insync.replicas 2). Ports are picked free on first
    start and remembered in ``data_dir/cluster.json``; ``ports`` fixes the client ports instead."""

    def __init__(self, data_dir: Path, *, ports: Sequence[int] | None = None, heap: str = "384m") -> None:
        self.data_dir = data_dir
        state = self._load()
        if state is None:
            client_ports = list(ports) if ports else [_free_port() for _ in range(NODES)]
            if len(client_ports) != NODES:
                raise BrokerError(f"a local cluster has {NODES} nodes; {len(client_ports)} ports were given")
            state = {
                "cluster_id": base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="),
                "ports": client_ports,
                "controller_ports": [_free_port() for _ in range(NODES)],
            }
        self._state = state
        voters = ",".join(f"{n + 1}@127.0.0.1:{p}" for n, p in enumerate(state["controller_ports"]))
        self.nodes = [
            ClusterNode(
                data_dir / f"node-{n + 1}", port=state["ports"][n], controller_port=state["controller_ports"][n],
                node_id=n + 1, heap=heap, voters=voters, cluster_id=state["cluster_id"],
            )
            for n in range(NODES)
        ]  # fmt: skip

    @property
    def _state_file(self) -> Path:
        return self.data_dir / "cluster.json"

    def _load(self) -> dict[str, Any] | None:
        try:
            state = json.loads(self._state_file.read_text())
        except (OSError, ValueError):
            return None
        return state if isinstance(state, dict) else None

    @property
    def created(self) -> bool:
        """True once ``start()`` has laid the cluster out in ``data_dir``."""
        return self._state_file.exists()

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.bootstrap_servers for node in self.nodes)

    def node(self, node_id: int) -> ClusterNode:
        if not 1 <= node_id <= NODES:
            raise BrokerError(f"no node {node_id}: the nodes are 1 to {NODES}")
        return self.nodes[node_id - 1]

    def running(self) -> list[int]:
        """The ids of the nodes whose process is alive."""
        return [node.node_id for node in self.nodes if node.is_running()]

    def start(self, wait_s: float = 180.0) -> None:
        """Start every node that is not running and wait until all of them serve as brokers."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._state_file.write_text(json.dumps(self._state))
        for node in self.nodes:
            node.launch()
        self.wait_for_brokers(NODES, wait_s)

    def wait_for_brokers(self, count: int, wait_s: float = 120.0) -> None:
        """Wait until ``count`` brokers are registered and unfenced in the cluster's metadata."""
        deadline = time.monotonic() + wait_s
        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers, "log_level": 0})
        seen = 0
        while time.monotonic() < deadline:
            for node in self.nodes:
                pid_file = node.data_dir / "broker.pid"
                if pid_file.exists() and not node.is_running():
                    raise BrokerError(f"node {node.node_id} exited", node.log_file)
            try:
                seen = len(admin.list_topics(timeout=2.0).brokers)
            except Exception:
                seen = 0
            if seen >= count:
                return
            time.sleep(0.5)
        raise RetryableError(f"{seen} of {count} brokers answered within {wait_s:.0f}s (see {self.data_dir})")

    def kill(self, node_id: int) -> None:
        """SIGKILL one node: no clean shutdown, no leadership handed over."""
        self.node(node_id).kill()
        (self.node(node_id).data_dir / "broker.pid").unlink(missing_ok=True)

    def restart(self, node_id: int, wait_s: float = 120.0) -> None:
        """Start a node again (after kill) and wait until the cluster has all its brokers back."""
        node = self.node(node_id)
        node.launch()
        admin = AdminClient({"bootstrap.servers": node.bootstrap_servers, "log_level": 0})
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                admin.list_topics(timeout=2.0)
                break
            except Exception:
                time.sleep(0.5)
        self.wait_for_brokers(NODES, max(deadline - time.monotonic(), 1.0))

    def stop(self) -> bool:
        """Stop every node; returns False if none was running."""
        # All at once: each node takes seconds to shut down cleanly, and none waits for the others.
        with ThreadPoolExecutor(NODES) as pool:
            stopped = list(pool.map(lambda node: node.stop(), self.nodes))
        return any(stopped)
