"""What connect() hands clickhouse-connect for a server: the password from a mounted file, the TLS files,
and in cluster mode the shard pruning of lookups by subject key."""

from __future__ import annotations

from pathlib import Path

import pytest

from pdtrail.config import Settings
from pdtrail.errors import ConfigError
from pdtrail.store._connect import _server_options

pytestmark = pytest.mark.usefixtures("isolated_env")
SERVER = "https://clickhouse.example:8443"


def test_the_password_is_read_from_its_file_stripped(tmp_path: Path) -> None:
    secret = tmp_path / "clickhouse_password"
    secret.write_text("s3cret-from-a-mount\n")
    assert Settings(store={"dsn": SERVER, "password_file": secret}).store.password_value() == "s3cret-from-a-mount"
    assert Settings(store={"dsn": SERVER, "password": "inline"}).store.password_value() == "inline"
    assert Settings(store={"dsn": SERVER}).store.password_value() is None


def test_an_unreadable_password_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        Settings(store={"dsn": SERVER, "password_file": tmp_path / "absent"}).store.password_value()
    assert info.value.setting == "PDTRAIL_STORE__PASSWORD_FILE"


def test_tls_files_and_cluster_settings_reach_the_client(tmp_path: Path) -> None:
    files = {name: tmp_path / f"{name}.pem" for name in ("ca", "cert", "key")}
    store = {"dsn": SERVER, "ca_cert": files["ca"], "client_cert": files["cert"], "client_key": files["key"]}
    assert _server_options(Settings(store=store)) == {
        "ca_cert": str(files["ca"]),
        "client_cert": str(files["cert"]),
        "client_cert_key": str(files["key"]),
    }
    clustered = _server_options(Settings(store={"dsn": SERVER, "cluster": "audit"}))
    assert clustered == {"settings": {"optimize_skip_unused_shards": 1}}
    assert _server_options(Settings(store={"dsn": SERVER})) == {}
