"""Settings: environment and TOML are read, bad values and unknown keys raise ConfigError naming the setting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pdtrail.config import Settings, load_settings
from pdtrail.errors import ConfigError, PdtrailError
from pdtrail.producers import producer_config

pytestmark = pytest.mark.usefixtures("isolated_env")
SECRET = "0123456789abcdef-unit"


def config_error(**overrides: object) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_settings(**overrides)
    assert isinstance(info.value, PdtrailError)
    assert str(info.value) == f"{info.value.setting}: {info.value.reason}"
    return info.value


def write_toml(path: Path, text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path.write_text(text)
    monkeypatch.setenv("PDTRAIL_CONFIG", str(path))


def test_defaults_without_any_configuration() -> None:
    settings = load_settings()
    assert settings.kafka.bootstrap_servers == "127.0.0.1:9092"
    assert settings.kafka.topic == "pdtrail.events"
    assert settings.kafka.producer == {}
    assert settings.store_is_embedded
    assert settings.store_dsn.startswith("chdb://") and settings.store_dsn.endswith("clickhouse")


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PDTRAIL_KAFKA__BOOTSTRAP_SERVERS", "broker-a:9093,broker-b:9093")
    monkeypatch.setenv("PDTRAIL_KAFKA__TOPIC", "audit.events")
    monkeypatch.setenv("PDTRAIL_KAFKA__PARTITIONS", "12")
    monkeypatch.setenv("PDTRAIL_KAFKA__PRODUCER", '{"linger.ms": 20, "batch.size": 65536}')
    monkeypatch.setenv("PDTRAIL_STORE__DSN", "http://clickhouse:8123")
    monkeypatch.setenv("PDTRAIL_PSEUDONYM__SECRET", SECRET)
    monkeypatch.setenv("PDTRAIL_PSEUDONYM__KEY_VERSION", "3")
    monkeypatch.setenv(
        "PDTRAIL_PSEUDONYM__PREVIOUS_SECRETS", '{"1": "an-older-secret-0001", "2": "an-older-secret-0002"}'
    )
    monkeypatch.setenv("PDTRAIL_EMITTER__ENQUEUE_TIMEOUT_S", "0.25")
    settings = load_settings()
    assert settings.kafka.bootstrap_servers == "broker-a:9093,broker-b:9093"
    assert settings.kafka.topic == "audit.events"
    assert settings.kafka.partitions == 12
    assert settings.kafka.producer == {"linger.ms": 20, "batch.size": 65536}
    assert settings.store_dsn == "http://clickhouse:8123" and not settings.store_is_embedded
    assert settings.emitter.enqueue_timeout_s == 0.25
    assert settings.pseudonym.secrets() == {
        1: b"an-older-secret-0001",
        2: b"an-older-secret-0002",
        3: SECRET.encode(),
    }
    assert SECRET not in repr(settings)


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("PDTRAIL_KAFKA__PARTITIONS", "0", "greater than or equal to 1"),
        ("PDTRAIL_KAFKA__PARTITIONS", "many", "valid integer"),
        ("PDTRAIL_KAFKA__RETENTION_MS", "1000", "greater than or equal to 3600000"),
        ("PDTRAIL_PSEUDONYM__KEY_VERSION", "70000", "less than or equal to 65535"),
        ("PDTRAIL_STORE__DATABASE", "audit-log", "pattern"),
        ("PDTRAIL_CONSUMER__LINGER_S", "0", "greater than 0"),
        ("PDTRAIL_SERVE__PORT", "70000", "less than or equal to 65535"),
        ("PDTRAIL_KAFKA__UNKNOWN_OPTION", "1", "not permitted"),
    ],
)
def test_bad_environment_value_names_the_setting(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, reason: str
) -> None:
    monkeypatch.setenv(variable, value)
    error = config_error()
    assert error.setting == variable
    assert reason in error.reason


def test_bad_json_in_a_librdkafka_passthrough_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PDTRAIL_KAFKA__PRODUCER", "linger.ms=20")
    assert config_error().setting == "PDTRAIL_KAFKA__PRODUCER"


def test_toml_file_is_read_and_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_toml(
        tmp_path / "settings.toml",
        f'[kafka]\nbootstrap_servers = "from-file:9092"\ntopic = "file.topic"\n\n[pseudonym]\nsecret = "{SECRET}"\n',
        monkeypatch,
    )
    settings = load_settings()
    assert (settings.kafka.bootstrap_servers, settings.kafka.topic) == ("from-file:9092", "file.topic")
    assert settings.pseudonym.secrets() == {1: SECRET.encode()}
    monkeypatch.setenv("PDTRAIL_KAFKA__BOOTSTRAP_SERVERS", "from-env:9092")
    settings = load_settings()
    assert (settings.kafka.bootstrap_servers, settings.kafka.topic) == ("from-env:9092", "file.topic")


def test_pdtrail_toml_in_the_working_directory_is_read(isolated_env: Path) -> None:
    (isolated_env / "pdtrail.toml").write_text('[kafka]\ntopic = "cwd.topic"\n')
    assert load_settings().kafka.topic == "cwd.topic"


@pytest.mark.parametrize(
    ("text", "setting"),
    [
        ('[kafka]\ntopik = "typo"\n', "PDTRAIL_KAFKA__TOPIK"),
        ("retention = 3\n", "PDTRAIL_RETENTION"),
        ('[pseudonym]\nsekret = "x"\n', "PDTRAIL_PSEUDONYM__SEKRET"),
    ],
)
def test_unknown_key_in_the_toml_file_is_rejected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, setting: str
) -> None:
    write_toml(tmp_path / "pdtrail.toml", text, monkeypatch)
    error = config_error()
    assert error.setting == setting
    assert "not permitted" in error.reason


def test_bad_value_in_the_toml_file_names_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_toml(tmp_path / "pdtrail.toml", "[consumer]\nbatch_size = 0\n", monkeypatch)
    assert config_error().setting == "PDTRAIL_CONSUMER__BATCH_SIZE"


def test_missing_config_file_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PDTRAIL_CONFIG", str(tmp_path / "absent.toml"))
    error = config_error()
    assert error.setting == "PDTRAIL_CONFIG"
    assert "absent.toml" in error.reason


def test_malformed_toml_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_toml(tmp_path / "pdtrail.toml", "[kafka\n", monkeypatch)
    assert config_error().setting == "PDTRAIL_CONFIG"


def test_misspelt_environment_variable_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PDTRAIL_KAFKA_BOOTSTRAP_SERVERS", "broker:9092")  # single underscore
    config_error()


def test_missing_secret_raises_from_secrets() -> None:
    settings = load_settings()  # loading succeeds: not every command needs the secret
    with pytest.raises(ConfigError) as info:
        settings.pseudonym.secrets()
    assert info.value.setting == "PDTRAIL_PSEUDONYM__SECRET"
    assert "no pseudonymisation secret" in info.value.reason


def test_empty_and_short_secrets_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PDTRAIL_PSEUDONYM__SECRET", "")
    with pytest.raises(ConfigError, match="no pseudonymisation secret"):
        load_settings().pseudonym.secrets()
    monkeypatch.setenv("PDTRAIL_PSEUDONYM__SECRET", "too-short")
    with pytest.raises(ConfigError, match="at least 16 bytes") as info:
        load_settings().pseudonym.secrets()
    assert "too-short" not in str(info.value)


def test_secret_file_is_read_and_stripped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_bytes(SECRET.encode() + b"\n")
    monkeypatch.setenv("PDTRAIL_PSEUDONYM__SECRET_FILE", str(secret_file))
    assert load_settings().pseudonym.secrets() == {1: SECRET.encode()}


def test_unreadable_secret_file_names_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PDTRAIL_PSEUDONYM__SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError) as info:
        load_settings().pseudonym.secrets()
    assert info.value.setting == "PDTRAIL_PSEUDONYM__SECRET_FILE"
    assert "cannot read" in info.value.reason


def test_producer_config_defaults_keep_the_guarantees() -> None:
    config = producer_config(load_settings(kafka={"bootstrap_servers": "b:1"}))
    assert config["bootstrap.servers"] == "b:1"
    assert config["enable.idempotence"] is True
    assert config["acks"] == "all"


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("enable.idempotence", False),
        ("enable.idempotence", "false"),
        ("acks", 1),
        ("acks", "1"),
        ("acks", 0),
    ],
)
def test_producer_config_refuses_weaker_guarantees_from_settings(
    monkeypatch: pytest.MonkeyPatch, option: str, value: object
) -> None:
    monkeypatch.setenv("PDTRAIL_KAFKA__PRODUCER", json.dumps({option: value}))
    settings = load_settings()
    assert settings.kafka.producer == {option: value}
    with pytest.raises(ConfigError) as info:
        producer_config(settings)
    assert info.value.setting == "PDTRAIL_KAFKA__PRODUCER"
    assert option in info.value.reason


def test_producer_config_refuses_weaker_guarantees_from_extra() -> None:
    with pytest.raises(ConfigError, match="acks"):
        producer_config(Settings(), acks="1")


def test_producer_config_passes_other_options_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "PDTRAIL_KAFKA__PRODUCER",
        '{"linger.ms": 50, "compression.type": "zstd", "queue.buffering.max.messages": 1000, "acks": "ALL"}',
    )
    config = producer_config(load_settings(), **{"client.id": "svc-a", "message.timeout.ms": 30000})
    assert config["linger.ms"] == 50
    assert config["compression.type"] == "zstd"
    assert config["queue.buffering.max.messages"] == 1000
    assert config["client.id"] == "svc-a"
    assert config["message.timeout.ms"] == 30000
    assert config["enable.idempotence"] is True
    assert str(config["acks"]).lower() == "all"


@pytest.mark.parametrize("value", [-1, "-1"], ids=["int", "str"])
def test_producer_config_accepts_acks_minus_one_as_all(value: object) -> None:
    assert producer_config(Settings(), acks=value)["acks"] == value
