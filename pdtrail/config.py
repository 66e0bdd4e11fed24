"""Typed configuration, read from ``PDTRAIL_*`` environment variables and an optional TOML file.

Nested settings use ``__`` in environment names: ``PDTRAIL_KAFKA__BOOTSTRAP_SERVERS``,
``PDTRAIL_PSEUDONYM__SECRET``. librdkafka options pass through untouched as a JSON object, e.g.
``PDTRAIL_KAFKA__PRODUCER='{"linger.ms": 20}'``. The TOML file is ``pdtrail.toml`` in the working
directory, or the path in ``PDTRAIL_CONFIG``; environment variables win over the file. Unknown keys are
rejected with a message that names them, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from pdtrail.errors import ConfigError

LibrdkafkaConfig = dict[str, str | int | float | bool]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KafkaSettings(_Section):
    """Where the events go. Defaults match the local broker started by ``pdtrail broker start``."""

    bootstrap_servers: str = "127.0.0.1:9092"
    topic: str = "pdtrail.events"
    dead_letter_topic: str = "pdtrail.events.dlq"
    group_id: str = "pdtrail-ingest"
    partitions: int = Field(6, ge=1, description="Partitions of the event topic when pdtrail creates it.")
    replication_factor: int = Field(1, ge=1)
    # The broker is a buffer, ClickHouse is the record: a week covers any ingest outage worth surviving.
    retention_ms: int = Field(7 * 24 * 3600 * 1000, ge=3_600_000)
    dead_letter_retention_ms: int = Field(30 * 24 * 3600 * 1000, ge=3_600_000)
    producer: LibrdkafkaConfig = Field(default_factory=dict, description="Extra librdkafka producer options.")
    consumer: LibrdkafkaConfig = Field(default_factory=dict, description="Extra librdkafka consumer options.")

    def security_options(self) -> LibrdkafkaConfig:
        """The connection-security options (sasl.*, ssl.*, security.*) that every client here needs too:
        admin clients and the readers pdtrail makes itself."""
        options = {**self.producer, **self.consumer}
        return {k: v for k, v in options.items() if k.startswith(("sasl.", "ssl.", "security."))}


class StoreSettings(_Section):
    """The ClickHouse store: ``chdb:///dir`` (embedded, on disk) or ``http(s)://host:port`` (a server)."""

    dsn: str | None = Field(None, description="Defaults to the embedded store under `home`/clickhouse.")
    database: str = Field("pdtrail", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = Field(None, description="Read the password from this file (a mounted secret).")
    ca_cert: Path | None = Field(None, description="PEM of the CA that signed the server's certificate (https://).")
    client_cert: Path | None = Field(None, description="PEM client certificate, for servers that require one.")
    client_key: Path | None = Field(None, description="PEM key of client_cert.")
    # Cluster mode (see infra/_cluster_ddl.py): empty runs on one server or the embedded store, as always.
    cluster: str = Field(
        "",
        pattern=r"^([A-Za-z_][A-Za-z0-9_-]*)?$",
        description="A cluster of the servers' remote_servers: the migrations create replicated tables "
        "`<name>_local` ON CLUSTER and a Distributed table `<name>` over them; empty = one server.",
    )
    replica_path: str = Field(
        "/clickhouse/tables/{shard}/{database}/{table}",
        description="Keeper path of each replicated table: {shard} is the servers' macro, {database} and "
        "{table} are expanded by ClickHouse.",
    )
    replica_name: str = Field("{replica}", description="The replica name, normally the servers' {replica} macro.")
    sharding_keys: dict[str, str] = Field(
        default_factory=dict,
        description="Sharding expression per table; default cityHash64 of the first column of its ORDER BY "
        "(subject_key for events: one subject's rows live on one shard).",
    )
    dedup_window_s: int = Field(
        7 * 24 * 3600,
        ge=60,
        description="How long a replicated table remembers an insert's deduplication token: as long as Kafka "
        "keeps the events a consumer may replay.",
    )
    insert_quorum: int | Literal["auto"] = Field("auto", description="Replicas of a shard that confirm an insert.")
    insert_quorum_timeout_ms: int = Field(60_000, ge=1000)

    def password_value(self) -> str | None:
        """The password from `password` or `password_file`; raises ConfigError if the file is unreadable."""
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_file is None:
            return None
        try:
            return self.password_file.read_text().strip()
        except OSError as exc:
            raise ConfigError("PDTRAIL_STORE__PASSWORD_FILE", f"cannot read: {exc.strerror}") from exc


class PseudonymSettings(_Section):
    """The HMAC secret that turns a raw identifier into a subject key.

    Give ``secret`` or ``secret_file``. ``key_version`` is stamped on every event; secrets of earlier
    versions stay in ``previous_secrets`` so that a lookup still finds events keyed before a rotation.
    """

    secret: SecretStr | None = None
    secret_file: Path | None = None
    key_version: int = Field(1, ge=1, le=65535)
    previous_secrets: dict[int, SecretStr] = Field(default_factory=dict)

    def secrets(self) -> dict[int, bytes]:
        """All known secrets by key version, the current one included; raises ConfigError if none."""
        current: bytes | None = None
        if self.secret is not None:
            current = self.secret.get_secret_value().encode()
        elif self.secret_file is not None:
            try:
                current = self.secret_file.read_bytes().strip()
            except OSError as exc:
                raise ConfigError("PDTRAIL_PSEUDONYM__SECRET_FILE", f"cannot read: {exc.strerror}") from exc
        if not current:
            raise ConfigError(
                "PDTRAIL_PSEUDONYM__SECRET",
                "no pseudonymisation secret is configured (set it or PDTRAIL_PSEUDONYM__SECRET_FILE)",
            )
        if len(current) < 16:
            raise ConfigError("PDTRAIL_PSEUDONYM__SECRET", "must be at least 16 bytes")
        found = {v: s.get_secret_value().encode() for v, s in self.previous_secrets.items()}
        found[self.key_version] = current
        return found


class EmitterSettings(_Section):
    """How the SDK hands events to Kafka."""

    source_system: str | None = Field(None, description="Default source_system stamped on events.")
    enqueue_timeout_s: float = Field(
        1.0, ge=0, description="How long emit() may wait for room in the local queue before raising."
    )
    delivery_timeout_s: float = Field(
        30.0, gt=0, description="How long librdkafka tries to deliver an event before it goes to the spool."
    )
    spool_dir: Path | None = Field(None, description="Where undeliverable events wait on disk (default <home>/spool).")
    spool_max_bytes: int = Field(
        256 * 1024 * 1024, ge=0, description="Bound of the spool (keys + values); 0 turns the spool off."
    )
    spool_full_policy: Literal["block", "raise"] = Field(
        "block", description="A full spool: emit() waits up to spool_block_timeout_s for room, or raises at once."
    )
    spool_block_timeout_s: float = Field(5.0, ge=0, description="The longest emit() waits for room in a full spool.")
    pseudonym_cache_size: int = Field(
        4096, ge=0, description="Pseudonyms kept (LRU by kind, identifier, key version) for repeated subjects; 0: none."
    )


class RegisterSettings(_Section):
    """The processing register (GDPR Art. 30) events are checked against; see schemas/register.toml."""

    path: Path | None = Field(None, description="A register TOML file; without it, the shipped default.")
    mode: Literal["enforce", "record"] = Field(
        "enforce",
        description="enforce: emit() refuses an event outside the register. record: it is emitted anyway "
        "(and `pdtrail findings` lists it) — for rolling the register out over services that predate it.",
    )


class IdentifierSettings(_Section):
    """Raw identifiers in free-text fields (see the README's security model). Every free-text field of an
    event is refused when it holds a personnummer, samordningsnummer or e-mail address in clear."""

    digit_runs_allowed_in: tuple[str, ...] = Field(
        (),
        description="Fields whose values may hold a digit run that passes as a personnummer (an order "
        "number that happens to fit its date and check digit). E-mail addresses stay refused there.",
    )

    @field_validator("digit_runs_allowed_in")
    @classmethod
    def _known_fields(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from pdtrail.schemas._free_text import FREE_TEXT_FIELDS

        unknown = [f for f in value if f not in FREE_TEXT_FIELDS]
        if unknown:
            raise ValueError(f"not a free-text field: {', '.join(unknown)} (known: {', '.join(FREE_TEXT_FIELDS)})")
        return value


class TimeBoundsSettings(_Section):
    """The window an event's ``occurred_at`` must fall in: not older than the longest retention in the
    processing register plus ``past_slack_days``, not later than now plus ``max_future_skew_s``. An event
    outside it would sit in a partition of its own, where no period a DPO asks about shows it."""

    max_future_skew_s: float = Field(300.0, ge=0, description="How far ahead of this host's clock an event may be.")
    past_slack_days: int = Field(
        365, ge=0, description="Days beyond the register's longest retention an event may lie in the past."
    )


class ConsumerSettings(_Section):
    """How the consumer batches into ClickHouse."""

    # 25,000: the engine path pays ~0.3 s per round whatever its size, so bigger rounds store 35-60 % more
    # per second than 10,000 did (bench_ingest), for ~300 MB more peak memory with six partitions.
    batch_size: int = Field(25_000, ge=1, description="Rows per insert, at most.")
    linger_s: float = Field(1.0, gt=0, description="Longest a consumed event waits before its insert.")
    drain_idle_s: float = Field(
        10.0, gt=0, description="With --drain: stop after this long with no partition assigned or no news."
    )
    max_event_bytes: int = Field(
        1024 * 1024, ge=1024, description="A message above this size goes to the dead-letter topic as oversized."
    )
    metrics_port: int = Field(
        0, ge=0, le=65535, description="Serve /metrics (Prometheus) and /health on metrics_host:port; 0 = off."
    )
    metrics_host: str = Field(
        "127.0.0.1",
        description="The address /metrics and /health listen on: 127.0.0.1 (this machine only, the default), "
        "0.0.0.0 or :: (every interface: a container that Prometheus scrapes), or one interface's address.",
    )

    @field_validator("metrics_host")
    @classmethod
    def _an_address(cls, value: str) -> str:
        # An address, not a name: a name could resolve to an interface nobody meant to expose.
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            raise ValueError("must be an IP address (127.0.0.1, 0.0.0.0, ::, or an interface's)") from None

    columnar: bool = Field(
        True, description="Let the embedded engine parse and check the Avro of a batch; off: one message at a time."
    )


class IntegritySettings(_Section):
    """Signed checkpoints over the stored log (see integrity/).

    Give ``signing_key_file`` (PEM) or ``signing_key`` (base64 of the 32 raw Ed25519 bytes). Public
    keys of earlier signing keys go into ``public_keys_dir`` as ``*.pub`` so old checkpoints still verify.
    """

    signing_key: SecretStr | None = None
    signing_key_file: Path | None = None
    public_keys_dir: Path | None = None
    checkpoint_topic: str = Field("pdtrail.checkpoints", description="The copy of every checkpoint outside ClickHouse.")
    checkpoint_every_events: int = Field(1000, ge=1, description="Cut a checkpoint after this many stored events.")
    checkpoint_every_s: float = Field(60.0, gt=0, description="...or this long after the previous one.")


class ServeSettings(_Section):
    """The long-lived process that owns the embedded store and answers queries for other processes."""

    host: str = "127.0.0.1"
    port: int = Field(0, ge=0, le=65535, description="0 picks a free port; the owner file records it.")


class DeskToken(_Section):
    """One token of the DPO's desk: the identity it stands for (the meta-audit actor), its role, and
    the SHA-256 of the token (hex) — the token itself is never stored."""

    identity: str = Field(pattern=r"^[a-z][a-z0-9_.-]*$", max_length=64)
    role: str = Field(pattern=r"^(dpo|auditor|read_only)$")
    token_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class DeskSettings(_Section):
    """The DPO's desk (``pdtrail desk``): HTTP API and web UI. Tokens come from ``tokens`` (a JSON list
    in ``PDTRAIL_DESK__TOKENS``) and/or ``tokens_file`` (JSON list of the same entries)."""

    host: str = "127.0.0.1"
    port: int = Field(8470, ge=0, le=65535)
    tokens: list[DeskToken] = Field(default_factory=list)
    tokens_file: Path | None = None
    max_page_size: int = Field(1000, ge=1, le=100_000, description="Largest `limit` a request may ask for.")
    confirm_lookups_s: float = Field(
        5.0, ge=0, description="How long a lookup waits for Kafka to confirm its meta-audit event (0: no wait)."
    )
    base_url: str | None = Field(
        None,
        pattern=r"^https?://[^/?#\s]+/?$",
        description="The desk's address as browsers reach it (https://desk.example.com): absolute links and "
        "the only Origin its forms accept. Unset: links are relative, forms must come from where it listens.",
    )
    behind_tls_proxy: bool = Field(
        False, description="Browsers reach the desk over HTTPS through a proxy: the session cookie is `Secure`."
    )
    ref_keys_file: Path | None = Field(
        None,
        description="JSON {current, keys: {id: base64 32 bytes}} sealing subject references; shared by every "
        "replica. Unset: <home>/desk/ref-keys.json, made on first start.",
    )
    ref_ttl_s: float = Field(8 * 3600, gt=0, le=7 * 86400, description="How long a subject reference opens.")
    session_ttl_s: float = Field(8 * 3600, gt=0, le=7 * 86400, description="How long a UI sign-in lasts.")
    sessions_per_identity: int = Field(
        5, ge=1, le=100, description="UI sessions one identity may hold; signing in again ends its oldest."
    )


class Settings(BaseSettings):
    """All of pdtrail's configuration. See the README for every variable."""

    model_config = SettingsConfigDict(env_prefix="PDTRAIL_", env_nested_delimiter="__", extra="forbid", frozen=True)

    home: Path = Field(Path(".pdtrail"), description="Local state: broker data, embedded store, owner file.")
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    pseudonym: PseudonymSettings = Field(default_factory=PseudonymSettings)
    emitter: EmitterSettings = Field(default_factory=EmitterSettings)
    processing_register: RegisterSettings = Field(default_factory=RegisterSettings)
    identifiers: IdentifierSettings = Field(default_factory=IdentifierSettings)
    time_bounds: TimeBoundsSettings = Field(default_factory=TimeBoundsSettings)
    consumer: ConsumerSettings = Field(default_factory=ConsumerSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    integrity: IntegritySettings = Field(default_factory=IntegritySettings)
    desk: DeskSettings = Field(default_factory=DeskSettings)

    @property
    def store_dsn(self) -> str:
        if self.store.dsn:
            return self.store.dsn
        return f"chdb://{(self.home / 'clickhouse').resolve()}"

    @property
    def store_is_embedded(self) -> bool:
        return self.store_dsn.startswith("chdb:")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(os.environ.get("PDTRAIL_CONFIG", "pdtrail.toml"))
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
        )


def _unparsable_variable(prefix: str) -> str:
    """The variable under ``prefix`` whose value pydantic-settings could not parse as JSON."""
    for variable, value in os.environ.items():
        # Only the mapping-valued settings are parsed as JSON.
        parsed_as_json = (
            "__PRODUCER",
            "__CONSUMER",
            "__PREVIOUS_SECRETS",
            "__TOKENS",
            "__SHARDING_KEYS",
            "__DIGIT_RUNS_ALLOWED_IN",
        )
        if variable.startswith(prefix + "__") and variable.endswith(parsed_as_json):
            try:
                json.loads(value)
            except ValueError:
                return variable
    return prefix


def load_settings(**overrides: Any) -> Settings:
    """Read the settings; a bad value raises ConfigError naming the setting instead of a stack trace."""
    config_file = os.environ.get("PDTRAIL_CONFIG")
    if config_file and not Path(config_file).is_file():
        raise ConfigError("PDTRAIL_CONFIG", f"no such file: {config_file}")
    known = {f"PDTRAIL_{name.upper()}" for name in Settings.model_fields} | {"PDTRAIL_CONFIG"}
    for variable in os.environ:
        if variable.startswith("PDTRAIL_") and variable.split("__")[0] not in known:
            raise ConfigError(variable, "not a pdtrail setting (nested settings use a double underscore)")
    try:
        return Settings(**overrides)
    except SettingsError as exc:
        field = str(exc).split('"')[1] if str(exc).count('"') >= 2 else "*"
        raise ConfigError(_unparsable_variable(f"PDTRAIL_{field.upper()}"), "not valid JSON") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("PDTRAIL_CONFIG", f"the TOML file does not parse: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        setting = "PDTRAIL_" + "__".join(str(p).upper() for p in first["loc"])
        raise ConfigError(setting, first["msg"]) from None
