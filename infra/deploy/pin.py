"""Print the pinned runtime dependencies of the installed pdtrail (for infra/deploy/constraints.txt)."""

from __future__ import annotations

import importlib.metadata as metadata
import re

from packaging.requirements import Requirement


def closure(name: str, seen: dict[str, str]) -> None:
    key = re.sub(r"[-_.]+", "-", name).lower()
    if key in seen:
        return
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return  # an optional dependency for another platform
    seen[key] = dist.version
    for text in dist.requires or []:
        requirement = Requirement(text)
        if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
            continue  # extras and other platforms: not installed in the image
        closure(requirement.name, seen)


if __name__ == "__main__":
    pinned: dict[str, str] = {}
    closure("pdtrail", pinned)
    pinned.pop("pdtrail")
    print("# The exact versions the container image installs: pdtrail's runtime dependencies as tested, pinned.")
    print("# Regenerate after a dependency change: `python infra/deploy/pin.py > infra/deploy/constraints.txt`.")
    print("\n".join(f"{name}=={version}" for name, version in sorted(pinned.items())))
