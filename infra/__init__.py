"""How the real parts start: the local Kafka broker, the topics, the ClickHouse schema.

Production deployments use their own Kafka cluster and ClickHouse server; ``infra/`` still provides
the migrations (``pdtrail db migrate``, rendered for a cluster with ``store.cluster``) and the topic
layout (``pdtrail topics create``).
"""

from pdtrail.infra._broker import BrokerError, LocalBroker, ensure_jars
from pdtrail.infra._cluster import LocalCluster
from pdtrail.infra._cluster_ddl import ClusterDdlError, ClusterLayout, cluster_layout, render_migration
from pdtrail.infra._migrations import apply_migrations, migrations
from pdtrail.infra._retention import apply_retention, expired_partitions, retention_cutoff
from pdtrail.infra._topics import ensure_topics

__all__ = [
    "BrokerError",
    "ClusterDdlError",
    "ClusterLayout",
    "LocalBroker",
    "LocalCluster",
    "apply_migrations",
    "apply_retention",
    "cluster_layout",
    "ensure_jars",
    "ensure_topics",
    "expired_partitions",
    "migrations",
    "render_migration",
    "retention_cutoff",
]
