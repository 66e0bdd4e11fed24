"""The ``pdtrail`` command's entry point: it says which extra to install when the SDK came alone."""

from __future__ import annotations

import sys
from collections.abc import Sequence

# Installed by `pdtrail[server]`, not by the SDK (pyproject.toml).
SERVER_PACKAGES = {"rich", "chdb", "clickhouse_connect", "cryptography", "fastapi", "uvicorn", "jinja2", "reportlab"}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        from pdtrail._cli import main as run
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in SERVER_PACKAGES:
            raise
        print(
            f"pdtrail: the commands need the server parts ({exc.name} is missing): pip install 'pdtrail[server]'",
            file=sys.stderr,
        )
        return 2
    return run(argv)
