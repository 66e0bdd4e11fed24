"""``pdtrail desk``: the DPO's desk (HTTP API and web UI) on 127.0.0.1.

When ``pdtrail serve`` owns the embedded store, the desk asks it. Otherwise the desk owns the store
itself for as long as it runs: it answers other processes' queries (so ``pdtrail who-accessed`` still
works) and consumes the audit topic, so the lookups it records land in the log it serves.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import threading

from rich.console import Console

from pdtrail.config import Settings
from pdtrail.errors import ConfigError


def new_token_entry(spec: str, console: Console) -> int:
    from pdtrail.desk import new_token

    role, _, identity = spec.partition(":")
    try:
        token, entry = new_token(identity, role)
    except ValueError:
        raise ConfigError(
            "--new-token", "use ROLE:IDENTITY: role dpo, auditor or read_only; identity lower-case letters, digits, .-_"
        ) from None
    console.print(f"token (give it to {identity}; it is shown once): {token}")
    console.print("add this entry to the tokens file (PDTRAIL_DESK__TOKENS_FILE, a JSON list):")
    print(json.dumps(entry.model_dump()))
    return 0


def desk(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    if args.new_token:
        return new_token_entry(args.new_token, console)
    import uvicorn

    from pdtrail.consumers import AuditConsumer
    from pdtrail.desk import TokenStore, create_app
    from pdtrail.infra import apply_migrations, cluster_layout
    from pdtrail.queries import LocalQueries, QueryBackend, RemoteQueries
    from pdtrail.store import OwnerRecord, QueryServer, connect, read_owner, remove_owner, write_owner

    tokens = TokenStore.from_settings(settings.desk)
    if not len(tokens):
        raise ConfigError(
            "PDTRAIL_DESK__TOKENS_FILE",
            "no desk tokens configured: make one with `pdtrail desk --new-token dpo:<name>`",
        )
    port = args.port if args.port is not None else settings.desk.port
    owner = read_owner(settings)
    consumer: AuditConsumer | None = None
    server: QueryServer | None = None
    backend: QueryBackend
    if owner is not None:
        backend = RemoteQueries(owner.url, owner.token)
        console.print(f"asking the store's owner (pid {owner.pid})")
    else:
        client = connect(settings)
        apply_migrations(client, cluster_layout(settings))
        backend = LocalQueries(connect(settings, create_database=False))
        if settings.store_is_embedded:
            server = QueryServer(
                LocalQueries(connect(settings, create_database=False)), token := secrets.token_urlsafe(32)
            )
            server.start()
            write_owner(settings, OwnerRecord(pid=os.getpid(), url=server.url, token=token))
            consumer = AuditConsumer(settings, client)
            threading.Thread(target=consumer.run, name="pdtrail-desk-ingest", daemon=True).start()
            console.print(f"owning the embedded store; consuming {settings.kafka.topic}")
    app = create_app(settings, backend, tokens=tokens)
    console.print(f"the DPO's desk on http://{settings.desk.host}:{port}/ (API: /api/v1, spec: /api/openapi.json)")
    try:
        uvicorn.run(app, host=settings.desk.host, port=port, log_level="warning")
    finally:
        if consumer is not None:
            consumer.stop()
        if server is not None:
            remove_owner(settings)
            server.stop()
    return 0
