"""``python -m pdtrail.schemas freeze|check``: release edited schemas, or tell whether any are unreleased."""

from __future__ import annotations

import sys

from pdtrail.schemas._catalog import freeze, pending_changes
from pdtrail.schemas.exceptions import SchemaCompatibilityError


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "freeze":
        try:
            released = freeze()
        except SchemaCompatibilityError as exc:
            print(f"nothing released: {exc}", file=sys.stderr)
            return 1
        for path in released:
            print(f"released {path.parent.name} {path.stem}")
        if not released:
            print("every schema is released already")
        return 0
    if command == "check":
        pending = pending_changes()
        for name in pending:
            print(f"{name}: edited but not released; run `python -m pdtrail.schemas freeze`")
        return 1 if pending else 0
    print("usage: python -m pdtrail.schemas [freeze|check]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
