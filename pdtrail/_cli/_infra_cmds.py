"""``pdtrail broker``, ``pdtrail topics``, ``pdtrail db``, ``pdtrail schemas``."""

from __future__ import annotations

import argparse

from rich.console import Console

from pdtrail.config import Settings
from pdtrail.infra import LocalBroker, apply_migrations, cluster_layout, ensure_jars, ensure_topics


def local_broker(settings: Settings) -> LocalBroker:
    """The local broker that serves the configured bootstrap address (first host:port)."""
    first = settings.kafka.bootstrap_servers.split(",")[0]
    host, _, port = first.rpartition(":")
    if host not in ("127.0.0.1", "localhost"):
        raise SystemExit(f"pdtrail broker runs a local broker only; bootstrap servers point at {first}")
    return LocalBroker(settings.home / "kafka", port=int(port), controller_port=int(port) + 1)


def broker(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    node = local_broker(settings)
    if args.action == "start":
        if node.is_running():
            console.print(f"broker already running on {node.bootstrap_servers} (pid {node.pid()})")
            return 0
        with console.status("resolving the Kafka jars (first run only)…"):
            ensure_jars()
        with console.status(f"starting Kafka on {node.bootstrap_servers}…"):
            node.start()
            created = ensure_topics(settings)
        console.print(f"broker running on {node.bootstrap_servers} (pid {node.pid()}), log: {node.log_file}")
        if created:
            console.print(f"created topics: {', '.join(created)}")
        return 0
    if args.action == "stop":
        console.print("broker stopped" if node.stop() else "no broker was running")
        return 0
    running = node.is_running()
    console.print(f"broker {'running' if running else 'not running'} on {node.bootstrap_servers}")
    return 0 if running else 1


def topics(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    created = ensure_topics(settings)
    console.print(f"created: {', '.join(created)}" if created else "topics exist already")
    return 0


def db(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    from pdtrail.store import connect

    applied = apply_migrations(connect(settings), cluster_layout(settings))
    console.print(f"applied: {', '.join(applied)}" if applied else "schema is up to date")
    return 0


def schemas(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    from pdtrail.schemas.__main__ import main as schemas_main

    return schemas_main([args.action])
