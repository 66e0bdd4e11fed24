#!/usr/bin/env bash
# Everything a fresh machine needs, idempotent: Java 17 + Maven (Debian packages, when missing),
# a Python virtual environment with pdtrail (SDK and server parts) and its test tools, and the Kafka broker's jars.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
# Debian's Chromium: the browser tests of the DPO's desk drive it headless.
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
# Debian's docker-compose validates infra/deploy/compose.yaml (`config` needs no Docker engine).
command -v docker-compose >/dev/null 2>&1 || need_apt+=(docker-compose)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} (Debian packages)"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need_apt[@]}"
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.pdtrail-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing pdtrail and its dependencies into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[server,dev]'
  touch "$stamp"
fi

if ! ls infra/kafka/lib/kafka_2.13-*.jar >/dev/null 2>&1; then
  echo "setup: resolving the Kafka broker jars from Maven Central"
  mvn -q -B -f infra/kafka/pom.xml dependency:copy-dependencies
fi
echo "setup: done"
