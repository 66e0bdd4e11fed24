"""``pdtrail emit``, ``pdtrail consume``, ``pdtrail serve``."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape

from pdtrail._cli._jsonl import read_lines
from pdtrail._cli._output import progress_bar
from pdtrail.config import Settings
from pdtrail.consumers import AuditConsumer, ConsumeStats
from pdtrail.infra import apply_migrations, cluster_layout
from pdtrail.producers import AuditEmitter, InvalidEventError
from pdtrail.store import OwnerRecord, QueryServer, connect, read_owner, remove_owner, write_owner
from pdtrail.store._connect import StoreLockedError

logger = logging.getLogger("pdtrail.cli")
_EMIT_BATCH = 1000  # events checked, encoded and handed to librdkafka together by `pdtrail emit`


def emit(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    """Emit a JSON-lines file: each bad line is reported with its number and reason, the rest are sent."""
    try:
        source = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: SIM115
    except OSError as exc:
        console.print(f"[red]cannot read {escape(args.file)}: {escape(exc.strerror or str(exc))}[/]")
        return 2
    rejected = 0  # lines, not problems: one line may break several fields
    batch: list[tuple[int, Any]] = []  # (line number, event): sent with emit_many, _EMIT_BATCH at a time

    def reject(number: int, *why: str) -> None:
        nonlocal rejected
        rejected += 1
        for reason in why:
            console.print(f"[red]line {number}[/]: {escape(reason)}")  # escaped: field names come from the input

    def send() -> None:
        def invalid(index: int, exc: InvalidEventError) -> None:
            reject(batch[index][0], *(f"{field}: {reason}" for field, reason in exc.problems))

        emitter.emit_many([event for _, event in batch], on_invalid=invalid)
        batch.clear()

    with source, AuditEmitter(settings) as emitter, progress_bar(console) as progress:
        task = progress.add_task("emitting", total=None)
        for line in read_lines(source):
            if line.event is None:
                send()  # the lines before it first, so that messages come in line order
                reject(line.number, str(line.rejected))
            else:
                batch.append((line.number, line.event))
                if len(batch) >= _EMIT_BATCH:
                    send()
            progress.advance(task)
        send()
        left = emitter.flush(args.timeout)
    stats = emitter.stats
    console.print(f"emitted {stats.emitted}, delivered {stats.delivered}, failed {stats.failed}, rejected {rejected}")
    if left:
        console.print(f"[red]{left} events still unconfirmed after {args.timeout}s[/]")
    return 0 if not (rejected or left or stats.failed) else 1


def _install_stop_handlers(consumer: AuditConsumer) -> None:
    def handler(signum: int, _frame: object) -> None:
        logger.info("signal %d: finishing the current batch and stopping", signum)
        consumer.stop()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def _summary(stats: ConsumeStats) -> str:
    return f"consumed {stats.consumed}, stored {stats.stored}, dead-lettered {stats.dead_lettered}"


def consume(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    owner = read_owner(settings)
    if owner is not None:
        console.print(f"[red]`pdtrail serve` (pid {owner.pid}) owns the embedded store and consumes already[/]")
        return 2
    client = connect(settings)
    apply_migrations(client, cluster_layout(settings))
    with progress_bar(console) as progress:
        task = progress.add_task("consuming", total=None)
        consumer = AuditConsumer(settings, client, on_progress=lambda s: progress.update(task, completed=s.consumed))
        _install_stop_handlers(consumer)
        stats = consumer.run(drain=args.drain)
    console.print(_summary(stats))
    return 0


def serve(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    """Own the store: consume continuously and answer other processes' queries until SIGINT/SIGTERM."""
    from pdtrail.queries import LocalQueries

    try:
        client = connect(settings)
    except StoreLockedError as exc:
        console.print(f"[red]{exc}[/]")
        return 2
    apply_migrations(client, cluster_layout(settings))
    consumer = AuditConsumer(settings, client)
    health = lambda: {"consumer": consumer.stats.__dict__}  # noqa: E731
    server = QueryServer(
        LocalQueries(connect(settings, create_database=False)), token := secrets.token_urlsafe(32),
        host=settings.serve.host, port=settings.serve.port, health=health,
    ).start()  # fmt: skip
    if settings.store_is_embedded:
        write_owner(settings, OwnerRecord(pid=os.getpid(), url=server.url, token=token))
    console.print(f"serving queries on {server.url}; consuming {settings.kafka.topic}. Ctrl-C stops.")
    _install_stop_handlers(consumer)
    try:
        stats = consumer.run(drain=args.drain)
    finally:
        if settings.store_is_embedded:
            remove_owner(settings)
        server.stop()
    console.print(_summary(stats))
    return 0
