"""``pdtrail health``, ``pdtrail cluster``, ``pdtrail dlq``: running the pipeline, and its faults."""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from typing import Any

from rich.console import Console
from rich.table import Table

from pdtrail.config import Settings


def _check_kafka(settings: Settings) -> dict[str, Any]:
    from confluent_kafka.admin import AdminClient

    kafka = settings.kafka
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers, "log_level": 0, **kafka.security_options()})
    try:
        metadata = admin.list_topics(timeout=5.0)
    except Exception as exc:
        return {"ok": False, "detail": f"{kafka.bootstrap_servers} did not answer: {str(exc)[:200]}"}
    missing = [t for t in (kafka.topic, kafka.dead_letter_topic) if t not in metadata.topics]
    detail = f"{len(metadata.brokers)} broker(s) at {kafka.bootstrap_servers}"
    if missing:
        return {"ok": False, "detail": f"{detail}; missing topics: {', '.join(missing)} (run `pdtrail topics`)"}
    return {"ok": True, "detail": detail}


def _get_json(url: str, token: str | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:  # 503 from /health still carries the state
        return exc.code, json.loads(exc.read() or b"{}")


def _reachable(host: str) -> str:
    """Where this machine reaches a server listening on ``host`` (every interface: the loopback)."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"[{host}]" if ":" in host else host


def _check_consumer(settings: Settings) -> dict[str, Any]:
    from pdtrail.consumers._metrics import HEALTHY_STATES
    from pdtrail.store import read_owner

    owner = read_owner(settings) if settings.store_is_embedded else None
    port = settings.consumer.metrics_port
    try:
        if port:
            _, report = _get_json(f"http://{_reachable(settings.consumer.metrics_host)}:{port}/health")
        elif owner is not None:
            _, report = _get_json(f"{owner.url}/v1/health", owner.token)
            report = report.get("consumer", {})
        else:
            return {"ok": None, "detail": "not checked: set consumer.metrics_port or run `pdtrail serve`"}
    except (OSError, ValueError) as exc:
        return {"ok": False, "detail": f"no consumer answered: {str(exc)[:200]}"}
    state = str(report.get("state", "unknown"))
    detail = f"{state}; stored {report.get('stored', 0)}, dead-lettered {report.get('dead_lettered', 0)}"
    if report.get("last_error") and state not in HEALTHY_STATES:
        detail += f"; last error: {report['last_error']}"
    return {"ok": state in HEALTHY_STATES, "detail": detail, "state": state}


def _check_store(settings: Settings) -> dict[str, Any]:
    from pdtrail.errors import PdtrailError
    from pdtrail.store import StoreLockedError, connect, read_owner

    if settings.store_is_embedded and read_owner(settings) is not None:
        return {"ok": True, "detail": "embedded store, owned by `pdtrail serve`"}
    try:
        client = connect(settings, create_database=False)
        client.query("SELECT 1")
    except StoreLockedError as exc:
        # A consumer holds the embedded store: that is how it runs, not a fault.
        return {"ok": True, "detail": f"embedded store in use by process {exc.owner_pid or '(consumer)'}"}
    except PdtrailError as exc:
        return {"ok": False, "detail": str(exc)[:300]}
    except Exception as exc:
        return {"ok": False, "detail": f"the store does not answer: {str(exc).splitlines()[0][:300]}"}
    return {"ok": True, "detail": "answers"}


def health(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    checks = {"kafka": _check_kafka(settings), "consumer": _check_consumer(settings), "store": _check_store(settings)}
    healthy = all(check["ok"] is not False for check in checks.values())
    if args.format == "json":
        print(json.dumps({"healthy": healthy, "checks": checks}))
    else:
        table = Table(title="pdtrail health", title_justify="left")
        for column in ("part", "ok", "detail"):
            table.add_column(column)
        for part, check in checks.items():
            mark = {True: "[green]ok[/]", False: "[red]FAIL[/]", None: "[dim]-[/]"}[check["ok"]]
            table.add_row(part, mark, check["detail"])
        console.print(table)
    return 0 if healthy else 1


def cluster(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    from pdtrail.infra import LocalCluster, ensure_jars

    local = LocalCluster(settings.home / "cluster")
    if args.action == "start":
        with console.status("resolving the Kafka jars (first run only)…"):
            ensure_jars()
        with console.status("starting three Kafka nodes on 127.0.0.1…"):
            local.start()
        console.print(f"cluster running: {local.bootstrap_servers} (nodes {local.running()})")
        console.print(
            f"use it with PDTRAIL_KAFKA__BOOTSTRAP_SERVERS={local.bootstrap_servers} "
            "PDTRAIL_KAFKA__REPLICATION_FACTOR=3, then `pdtrail topics`"
        )
        return 0
    if not local.created:
        console.print(f"no local cluster in {settings.home / 'cluster'} (`pdtrail cluster start` makes one)")
        return 0 if args.action == "stop" else 1
    if args.action == "stop":
        console.print("cluster stopped" if local.stop() else "no cluster node was running")
        return 0
    running = local.running()
    console.print(f"cluster {local.bootstrap_servers}: {len(running)} of 3 nodes running {running}")
    return 0 if len(running) == 3 else 1


def _letters_table(letters: list[Any], console: Console, title: str) -> None:
    table = Table(title=title, title_justify="left")
    for column in ("offset", "reason", "error", "origin", "time"):
        table.add_column(column, overflow="fold")
    for letter in letters:
        origin = f"{letter.origin_topic}[{letter.origin_partition}]@{letter.origin_offset}"
        when = letter.time.strftime("%Y-%m-%d %H:%M:%S") if letter.time else ""
        table.add_row(f"{letter.partition}/{letter.offset}", letter.reason, letter.error, origin, when)
    console.print(table)
    console.print(f"{len(letters)} dead letters", style="dim")


def _letter_json(letter: Any) -> str:
    return json.dumps(
        {
            "partition": letter.partition, "offset": letter.offset, "reason": letter.reason, "error": letter.error,
            "origin_topic": letter.origin_topic, "origin_partition": letter.origin_partition,
            "origin_offset": letter.origin_offset, "time": letter.time.isoformat() if letter.time else None,
            "bytes": len(letter.value or b""),
        }
    )  # fmt: skip


def dlq(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    from pdtrail.consumers import read_dead_letters, redrive

    if args.action == "list":
        letters = read_dead_letters(settings)
        if args.format == "json":
            for letter in letters:
                print(_letter_json(letter))
        else:
            _letters_table(letters, console, f"dead letters in {settings.kafka.dead_letter_topic}")
        return 0
    result = redrive(settings, dry_run=args.dry_run, from_start=args.all)
    if args.dry_run:
        _letters_table(result.letters, console, f"would re-drive to {settings.kafka.topic}")
    else:
        console.print(f"re-drove {result.published} dead letters to {settings.kafka.topic}")
    return 0
