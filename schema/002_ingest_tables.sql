-- mlops-ingest's own bookkeeping. All timestamps of events are stored as UTC in the seed's
-- TIMESTAMP (without time zone) columns; the ingester's own times are TIMESTAMPTZ.

-- Exactly-once: the next Kafka offset to read per (consumer group, topic, partition), written in
-- the same transaction as the rows it covers. A batch locks its partitions' rows here first and
-- writes only messages at or past the stored offset, so two instances that both believe they
-- own a partition (a rebalance in flight) can never store a message twice or skip one.
CREATE TABLE IF NOT EXISTS ingest_offsets (
    consumer_group  TEXT        NOT NULL,
    topic           TEXT        NOT NULL,
    kafka_partition INTEGER     NOT NULL,
    next_offset     BIGINT      NOT NULL,   -- -1: no message committed yet
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, kafka_partition)
);

-- Labels whose prediction is not stored yet. They move to label_store (and out of here) as
-- soon as the prediction lands, so the foreign key of label_store is never violated.
CREATE TABLE IF NOT EXISTS label_pending (
    prediction_id   VARCHAR(255) PRIMARY KEY,
    true_label      INTEGER CHECK (true_label IN (0,1)),
    label_timestamp TIMESTAMP,
    label_source    VARCHAR(100),
    days_delayed    INTEGER,
    received_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Events that cannot be stored, with the bytes as received and a reason a person can act on.
CREATE TABLE IF NOT EXISTS ingest_dead_letters (
    id               BIGSERIAL PRIMARY KEY,
    topic            TEXT        NOT NULL,
    kafka_partition  INTEGER     NOT NULL,
    kafka_offset     BIGINT      NOT NULL,
    message_key      BYTEA,
    payload          BYTEA,                 -- NULL for a tombstone; capped, see payload_bytes
    payload_bytes    INTEGER     NOT NULL,  -- the original length
    reason_code      TEXT        NOT NULL,  -- machine-readable, see docs/events.md
    reason           TEXT        NOT NULL,  -- human-readable, names the field
    sqlstate         TEXT,                  -- set when PostgreSQL refused the row
    dead_lettered_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS idx_dead_letters_reason ON ingest_dead_letters(reason_code, dead_lettered_at);
CREATE INDEX IF NOT EXISTS idx_dead_letters_position ON ingest_dead_letters(topic, kafka_partition, kafka_offset);
-- `mlops-ingest dead-letters requeue`: how many times a letter was re-driven and failed again,
-- and when last (its reason and sqlstate are then the latest failure's). Added, not created
-- with the table, so that a database of an earlier version upgrades in place.
ALTER TABLE ingest_dead_letters ADD COLUMN IF NOT EXISTS attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ingest_dead_letters ADD COLUMN IF NOT EXISTS last_attempt_at TIMESTAMPTZ;
-- Retention (dead_letter_retention) deletes by age.
CREATE INDEX IF NOT EXISTS idx_dead_letters_age ON ingest_dead_letters(dead_lettered_at);

-- Exactly once for the kinds that append without a natural key (monitoring_alerts,
-- retraining_metrics): the Kafka position of every appended row, written in the same
-- transaction as the row. ingest_offsets already keeps one consumer group from appending a
-- message twice; this table keeps a replay through a NEW group (a backfill) from appending it
-- again. One small row per appended event (alerts and retraining decisions are rare); rows of
-- positions older than the topics' retention may be deleted once no replay will reach them.
CREATE TABLE IF NOT EXISTS ingest_appended (
    topic           TEXT        NOT NULL,
    kafka_partition INTEGER     NOT NULL,
    kafka_offset    BIGINT      NOT NULL,
    target_table    TEXT        NOT NULL,
    appended_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, kafka_partition, kafka_offset)
);
-- Retention (appended_retention) deletes by age.
CREATE INDEX IF NOT EXISTS idx_appended_age ON ingest_appended(appended_at);

-- Who consumes each consumer group right now: one row per running `run`/`replay` process,
-- renewed every 2 s and valid for 15 s (pg/group_lease.hpp). `mlops-ingest offsets reset
-- --execute` refuses while a group has a valid lease, and marks the group's leases when it
-- moves the offsets (--force), so an instance that held them stops instead of mixing its
-- in-memory positions with the new offsets. Rows, not session advisory locks, because session
-- state does not survive a transaction-pooling PgBouncer (docs/operations.md, "Offsets").
CREATE TABLE IF NOT EXISTS ingest_instances (
    consumer_group   TEXT        NOT NULL,
    instance_id      TEXT        NOT NULL,  -- host:pid:start time
    started_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    renewed_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at       TIMESTAMPTZ NOT NULL,
    offsets_reset_at TIMESTAMPTZ,           -- set by `offsets reset --execute` while the lease existed
    PRIMARY KEY (consumer_group, instance_id)
);
