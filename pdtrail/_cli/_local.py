"""Local secrets for a single machine: without configured ones, the CLI keeps them under <home>.

The pseudonymisation secret goes to <home>/pseudonym.secret and the checkpoint signing key to
<home>/keys/; ``pdtrail demo`` makes them, every other command uses them when they are there.
"""

from __future__ import annotations

import secrets

from rich.console import Console

from pdtrail._files import write_private
from pdtrail.config import Settings


def with_local_secrets(settings: Settings, console: Console, *, create: bool) -> Settings:
    """Configured secrets, or else local ones in <home> (made if ``create``): the pseudonymisation
    secret in pseudonym.secret and the checkpoint signing key in keys/."""
    return _with_local_signing_key(_with_local_pseudonym_secret(settings, console, create), console, create)


def _with_local_signing_key(settings: Settings, console: Console, create: bool) -> Settings:
    integrity = settings.integrity
    keys = settings.home / "keys"
    update: dict[str, object] = {} if integrity.public_keys_dir else {"public_keys_dir": keys}
    if not (integrity.signing_key or integrity.signing_key_file):
        existing = sorted(keys.glob("*.key"), key=lambda p: p.stat().st_mtime) if keys.exists() else []
        if existing:
            update["signing_key_file"] = existing[-1]
        elif create:
            from pdtrail.integrity import generate_key_files

            key_file, _ = generate_key_files(keys)
            console.print(f"no checkpoint signing key configured: made a local one in {key_file}")
            update["signing_key_file"] = key_file
    return settings.model_copy(update={"integrity": integrity.model_copy(update=update)}) if update else settings


def _with_local_pseudonym_secret(settings: Settings, console: Console, create: bool) -> Settings:
    if settings.pseudonym.secret or settings.pseudonym.secret_file:
        return settings
    path = settings.home / "pseudonym.secret"
    if not path.exists():
        if not create:
            return settings
        try:
            write_private(path, secrets.token_hex(32), replace=False)
            console.print(f"no pseudonymisation secret configured: made a local one in {path}")
        except FileExistsError:
            pass  # another process made it first: both use that one

    pseudonym = settings.pseudonym.model_copy(update={"secret_file": path})
    return settings.model_copy(update={"pseudonym": pseudonym})
