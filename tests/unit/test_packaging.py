"""An installed pdtrail (a wheel, not this checkout) carries every file its packages read at run time."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]
# Files that live beside a package but are tools run from the repository, not read by the package.
REPOSITORY_ONLY = {"infra/setup.sh"}
# The deployment files build and run the image from the repository; an installed package needs none of them.
REPOSITORY_ONLY_DIRS = ("infra/deploy/",)


def test_every_data_file_of_a_package_is_declared_as_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders: dict[str, str] = config["package-dir"]
    declared: dict[str, list[str]] = config["package-data"]
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    missing = []
    for line in tracked.splitlines():
        path = Path(line)
        if (
            path.suffix == ".py"
            or line in REPOSITORY_ONLY
            or line.startswith(REPOSITORY_ONLY_DIRS)
            or len(path.parts) < 2
        ):
            continue
        package = next((p for p, folder in folders.items() if path.parts[0] == folder), None)
        if package is None:
            continue
        inside = path.relative_to(folders[package])
        if not any(inside.match(pattern) for pattern in declared.get(package, [])):
            missing.append(line)
    assert missing == [], f"not in [tool.setuptools.package-data], so missing from a wheel: {missing}"


# What a service installs to emit (pyproject's dependencies) leaves the server parts to the `server` extra,
# and importing the SDK does not reach them either.
SERVER_ONLY = {"chdb", "clickhouse-connect", "fastapi", "uvicorn", "reportlab", "rich", "jinja2", "cryptography"}


def _names(requirements: list[str]) -> set[str]:
    import re

    return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_the_sdk_depends_on_none_of_the_server_parts_and_the_server_extra_has_them() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert _names(project["dependencies"]).isdisjoint(SERVER_ONLY)
    assert _names(project["optional-dependencies"]["server"]) >= SERVER_ONLY


def test_importing_the_sdk_loads_none_of_the_server_parts() -> None:
    import json
    import sys

    code = (
        "import json, sys; from pdtrail.producers import AuditEmitter; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    loaded = set(json.loads(done.stdout))
    assert "pdtrail" in loaded and "confluent_kafka" in loaded  # the probe did import the SDK
    modules = {"chdb", "clickhouse_connect", "fastapi", "uvicorn", "reportlab", "rich", "jinja2", "cryptography"}
    assert loaded.isdisjoint(modules), f"the SDK imports server parts: {sorted(loaded & modules)}"


def test_importing_the_sdk_leaves_email_validation_until_an_email_subject_is_built() -> None:
    import json
    import sys

    code = (
        "import json, sys; from pdtrail.producers import AuditEmitter, SubjectIdentifier; "
        "before = 'email_validator' in sys.modules; "
        "s = SubjectIdentifier(kind='email', value=' Someone@Example.ORG '); "
        "print(json.dumps([before, 'email_validator' in sys.modules, s.value.get_secret_value()]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    before, after, normalised = json.loads(done.stdout)
    assert not before, "the SDK's import loads email_validator"
    assert after and normalised == "someone@example.org"  # validated and normalised as before, once needed
