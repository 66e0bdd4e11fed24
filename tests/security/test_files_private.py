"""Secrets, owner files, the home directory and the data under it are the owner's alone, whatever was
left on disk before and whatever the umask: a leftover temporary file (any mode, a symlink, even one
owned by nobody else but open to all) never lends its mode or its inode to a secret."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from pdtrail._files import write_private
from pdtrail.config import load_settings
from pdtrail.store import OwnerRecord, read_owner, write_owner
from tests.conftest import SECRET, SIGNING_KEY

WIDE_MODES = st.sampled_from([0o777, 0o666, 0o644, 0o604, 0o660, 0o606, 0o622])


@contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _leave_leftovers(target: Path, mode: int, names: list[str], victim: Path) -> None:
    """What a crash (or another user) could leave beside ``target``: temporary files under the names a
    writer might pick, wide open, one of them a symlink to a file of the attacker's choosing."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for name in names:
        leftover = target.parent / name
        leftover.write_text("left over")
        os.chmod(leftover, mode)
    link = target.with_suffix(".tmp")
    if not link.exists():
        link.symlink_to(victim)
    if target.exists() or target.is_symlink():
        target.unlink()
    target.write_text("an old file at the target itself, wide open")
    os.chmod(target, mode)


NAMES = st.lists(
    st.sampled_from([".tmp", ".json.tmp", ".owner.tmp", ".secret.tmp", "~", ".swp", ".new"]), max_size=4, unique=True
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mode=WIDE_MODES, suffixes=NAMES, mask=st.sampled_from([0o000, 0o002, 0o022]))
def test_the_owner_file_is_0600_whatever_is_left_beside_it(
    tmp_path_factory: pytest.TempPathFactory, mode: int, suffixes: list[str], mask: int
) -> None:
    home = tmp_path_factory.mktemp("home")
    settings_ = load_settings(home=home, store={"dsn": f"chdb://{home / 'clickhouse'}"}, pseudonym={"secret": SECRET})
    target = home / "clickhouse.owner.json"
    victim = home / "victim"
    victim.write_text("not to be overwritten")
    _leave_leftovers(target, mode, [f"clickhouse.owner{s}" for s in suffixes], victim)
    with umask(mask):
        written = write_owner(settings_, OwnerRecord(pid=os.getpid(), url="http://127.0.0.1:1", token="t0ken"))
    assert written == target and _mode(target) == 0o600 and not target.is_symlink()
    assert victim.read_text() == "not to be overwritten"
    assert read_owner(settings_) == OwnerRecord(pid=os.getpid(), url="http://127.0.0.1:1", token="t0ken")
    assert not list(home.glob(".clickhouse.owner.json.*.tmp"))  # no temporary file of its own left


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mode=WIDE_MODES, mask=st.sampled_from([0o000, 0o022]), data=st.binary(min_size=0, max_size=512))
def test_write_private_replaces_atomically_and_never_widens(
    tmp_path_factory: pytest.TempPathFactory, mode: int, mask: int, data: bytes
) -> None:
    directory = tmp_path_factory.mktemp("secret")
    target = directory / "secret"
    victim = directory / "victim"
    victim.write_text("v")
    _leave_leftovers(target, mode, ["secret.tmp", ".secret.tmp"], victim)
    with umask(mask):
        write_private(target, data)
    assert target.read_bytes() == data and _mode(target) == 0o600 and victim.read_text() == "v"
    with umask(mask), pytest.raises(FileExistsError):
        write_private(target, b"other", replace=False)  # a secret made once is not made again
    assert target.read_bytes() == data


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mode=WIDE_MODES, mask=st.sampled_from([0o000, 0o022]))
def test_the_local_pseudonym_secret_and_signing_key_are_made_0600(
    tmp_path_factory: pytest.TempPathFactory, mode: int, mask: int
) -> None:
    from pdtrail._cli._local import with_local_secrets

    home = tmp_path_factory.mktemp("home")
    victim = home / "victim"
    victim.write_text("v")
    for name in ("pseudonym.tmp", "pseudonym.secret.tmp", ".pseudonym.secret.tmp"):
        (home / name).write_text("left over")
        os.chmod(home / name, mode)
    (home / "keys").mkdir(mode=0o777)
    os.chmod(home / "keys", 0o777)
    with umask(mask):
        made = with_local_secrets(load_settings(home=home), Console(file=open(os.devnull, "w")), create=True)  # noqa: SIM115
    secret = made.pseudonym.secret_file
    key = made.integrity.signing_key_file
    assert secret is not None and key is not None
    made_secret = secret.read_text()
    assert _mode(secret) == 0o600 and len(made_secret) == 64
    assert _mode(key) == 0o600 and b"PRIVATE KEY" in key.read_bytes()
    assert _mode(home / "keys") == 0o700  # a wide directory left there is narrowed
    # A second process finds them and makes nothing new.
    again = with_local_secrets(load_settings(home=home), Console(file=open(os.devnull, "w")), create=True)  # noqa: SIM115
    assert again.pseudonym.secret_file == secret and secret.read_text() == made_secret


def _readable_by_others(root: Path) -> list[str]:
    found = []
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = _mode(path)
        if mode & 0o077 and (path.is_dir() or mode & 0o044):
            found.append(f"{path.relative_to(root.parent)} {oct(mode)}")
    return found


def test_a_pdtrail_command_makes_home_0700_and_its_store_unreadable_to_others(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {
        **os.environ, "PDTRAIL_HOME": str(home), "PDTRAIL_PSEUDONYM__SECRET": SECRET,
        "PDTRAIL_INTEGRITY__SIGNING_KEY": SIGNING_KEY,
    }  # fmt: skip
    # Started with the common umask 022: what pdtrail creates must not follow it.
    done = subprocess.run(
        [sys.executable, "-m", "pdtrail", "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        umask=0o022,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert _mode(home) == 0o700
    assert (home / "clickhouse").is_dir()
    assert _readable_by_others(home) == []


def test_a_wide_home_left_by_an_older_version_is_narrowed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    os.chmod(home, 0o755)
    env = {**os.environ, "PDTRAIL_HOME": str(home), "PDTRAIL_PSEUDONYM__SECRET": SECRET}
    done = subprocess.run([sys.executable, "-m", "pdtrail", "register", "check"], env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert _mode(home) == 0o700


def test_the_brokers_data_is_unreadable_to_others(kafka_broker: object) -> None:
    data_dir: Path = kafka_broker.data_dir  # type: ignore[attr-defined]
    assert _mode(data_dir) == 0o700
    segments = [p for p in (data_dir / "data").rglob("*") if p.is_file()]
    assert segments, "the broker has written its log"
    # The JVM runs under umask 0077: its segments, indexes and snapshots are the owner's alone.
    assert [f"{p.name} {oct(_mode(p))}" for p in segments if _mode(p) & 0o077] == []
