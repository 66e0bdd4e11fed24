-- Least privilege for a ClickHouse server deployment (not applied to the embedded store, which has no
-- users). Apply once as an administrator, replacing `pdtrail` with the configured database:
--   clickhouse-client --multiquery < infra/clickhouse/roles.sql
-- No role here may ALTER, UPDATE, DELETE, TRUNCATE or DROP the log: a change to a stored event needs an
-- administrator, and `pdtrail verify` finds it afterwards.

-- The consumer: appends events and checkpoints, reads back its own position and uncovered rows.
CREATE ROLE IF NOT EXISTS pdtrail_writer;
GRANT INSERT, SELECT ON pdtrail.events TO pdtrail_writer;
GRANT INSERT, SELECT ON pdtrail.checkpoints TO pdtrail_writer;
GRANT INSERT, SELECT ON pdtrail.ingest_batches TO pdtrail_writer;
GRANT SELECT ON pdtrail.schema_migrations TO pdtrail_writer;
-- Cluster mode (store.cluster): a Distributed table reads and writes the shards' `<name>_local` tables
-- with the privileges of the user who asked, so the same grants hold for those.
GRANT INSERT, SELECT ON pdtrail.events_local TO pdtrail_writer;
GRANT INSERT, SELECT ON pdtrail.checkpoints_local TO pdtrail_writer;
GRANT INSERT, SELECT ON pdtrail.ingest_batches_local TO pdtrail_writer;
GRANT SELECT ON pdtrail.schema_migrations_local TO pdtrail_writer;

-- The DPO's tools, auditors, `pdtrail verify` and `pdtrail prove`: read only.
CREATE ROLE IF NOT EXISTS pdtrail_reader;
GRANT SELECT ON pdtrail.* TO pdtrail_reader;

-- Migrations (`pdtrail db migrate`), run by a deploy step, not by the services: creates tables only.
CREATE ROLE IF NOT EXISTS pdtrail_migrator;
GRANT CREATE TABLE, CREATE DATABASE ON pdtrail.* TO pdtrail_migrator;
GRANT INSERT, SELECT ON pdtrail.schema_migrations TO pdtrail_migrator;
-- Migrations add columns (0005); adding one changes no stored event. In cluster mode they run ON CLUSTER
-- and write the ledger's shards.
GRANT ALTER ADD COLUMN ON pdtrail.* TO pdtrail_migrator;
GRANT CLUSTER ON *.* TO pdtrail_migrator;
GRANT INSERT, SELECT ON pdtrail.schema_migrations_local TO pdtrail_migrator;

-- Users get exactly one role each, e.g.:
--   CREATE USER pdtrail_ingest IDENTIFIED WITH sha256_password BY '...' DEFAULT ROLE pdtrail_writer;
--   CREATE USER pdtrail_dpo    IDENTIFIED WITH sha256_password BY '...' DEFAULT ROLE pdtrail_reader;
