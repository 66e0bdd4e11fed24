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

from pdtrail.config import DeskSettings, Settings
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
    from pdtrail._process import Shutdown, shutdown_on_signals

    settings = _with_flags(args, settings)
    stopped: Shutdown | None = None
    # SIGTERM (a service manager, a container runtime) and SIGINT (Ctrl-C) end the desk the same way:
    # the ingest thread finishes its batch and writes its final checkpoint, the owner file goes.
    with shutdown_on_signals():
        try:
            _serve_desk(args, settings, console)
        except Shutdown as exc:
            stopped = exc
    if stopped is not None:
        console.print(f"stopped by signal {stopped.signum}")
    return 0


def _with_flags(args: argparse.Namespace, settings: Settings) -> Settings:
    update: dict[str, object] = {}
    if args.behind_tls_proxy:
        update["behind_tls_proxy"] = True
    if args.base_url:
        update["base_url"] = args.base_url
    if not update:
        return settings
    try:
        checked = DeskSettings.model_validate({**settings.desk.model_dump(), **update})
    except ValueError:  # pydantic's ValidationError
        raise ConfigError("--base-url", "must be http(s)://host[:port], without a path") from None
    return settings.model_copy(update={"desk": checked})


def _serve_desk(args: argparse.Namespace, settings: Settings, console: Console) -> None:
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
    ingest: threading.Thread | None = None
    server: QueryServer | None = None
    backend: QueryBackend
    try:
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
                ).start()
                write_owner(settings, OwnerRecord(pid=os.getpid(), url=server.url, token=token))
                consumer = AuditConsumer(settings, client)
                ingest = threading.Thread(target=consumer.run, name="pdtrail-desk-ingest", daemon=True)
                ingest.start()
                console.print(f"owning the embedded store; consuming {settings.kafka.topic}")
        app = create_app(settings, backend, tokens=tokens)
        scheme = "https" if settings.desk.behind_tls_proxy else "http"
        shown = settings.desk.base_url or f"{scheme}://{settings.desk.host}:{port}/"
        console.print(f"the DPO's desk on {shown} (API: /api/v1, spec: /api/openapi.json)")
        uvicorn.run(
            app, host=settings.desk.host, port=port, log_level="warning", server_header=False,
            # Behind a TLS proxy, the scheme it forwards is believed only from the loopback proxy.
            proxy_headers=settings.desk.behind_tls_proxy, forwarded_allow_ips="127.0.0.1",
        )  # fmt: skip
    finally:
        if consumer is not None and ingest is not None:
            consumer.stop()
            ingest.join(timeout=120)  # its last batch and the final checkpoint, written before it returns
            if ingest.is_alive():
                console.print("[red]the ingest thread did not finish within 120 s[/]")
        if server is not None:
            remove_owner(settings)
            server.stop()
