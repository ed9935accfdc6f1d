-- SIEM forwarding's records (processors/siem/, api/siem/). Like export jobs, every change is a new
-- version row (ReplacingMergeTree on version) and reads take the newest version with FINAL, so
-- no transactions are needed and a table holds one live row per key once merged.

-- A destination: where a tenant's audit events are forwarded. `config` is the full JSON config,
-- secrets included (never returned by the API); deleting writes a version with deleted = true, so
-- the forwarder still sees it and removes its consumer group.
CREATE TABLE IF NOT EXISTS siem_destinations
(
    tenant_id      LowCardinality(String),
    destination_id String,
    version        UInt64,
    name           String,
    type           LowCardinality(String),
    config         String,
    filter         String,
    start          String,
    status         LowCardinality(String),
    created_at     DateTime64(3, 'UTC'),
    updated_at     DateTime64(3, 'UTC'),
    deleted        Bool
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant_id, destination_id);

-- A batch the receiver refused for good (a 4xx other than 429), with its answer and the events
-- as they were sent. Redriving writes a version (state redriven, or pending with one more attempt):
-- a dead letter is never removed.
CREATE TABLE IF NOT EXISTS siem_dead_letters
(
    tenant_id          LowCardinality(String),
    destination_id     String,
    dead_letter_id     String,
    version            UInt64,
    created_at         DateTime64(3, 'UTC'),
    http_status        UInt16,
    body               String,
    reason             String,
    event_ids          Array(String),
    events             String,
    state              LowCardinality(String),
    redrive_attempts   UInt32,
    last_redrive_error String,
    redriven_at        Nullable(DateTime64(3, 'UTC'))
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant_id, destination_id, dead_letter_id);

-- The forwarder's newest report per (destination, topic, partition) it holds: position, lag and
-- cumulative counters (continued by the next holder of the partition after a restart or rebalance).
CREATE TABLE IF NOT EXISTS siem_delivery_health
(
    tenant_id       LowCardinality(String),
    destination_id  String,
    topic           String,
    partition       UInt32,
    version         UInt64,
    position        UInt64,
    end_offset      UInt64,
    lag_events      UInt64,
    lag_seconds     Float64,
    last_success_at Nullable(DateTime64(3, 'UTC')),
    last_error      Nullable(String),
    delivered       UInt64,
    dead_lettered   UInt64,
    reported_at     DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant_id, destination_id, topic, partition);

-- A replay: re-deliver the tenant's stored events of [from, to) up to the seq readable when it was
-- requested, to one destination. A worker owns it while its lease runs and records the last seq
-- sent, so a crashed replay resumes after it.
CREATE TABLE IF NOT EXISTS siem_replays
(
    tenant_id      LowCardinality(String),
    destination_id String,
    replay_id      String,
    version        UInt64,
    status         LowCardinality(String),
    from_time      DateTime64(3, 'UTC'),
    to_time        DateTime64(3, 'UTC'),
    snapshot_seq   UInt64,
    created_at     DateTime64(3, 'UTC'),
    updated_at     DateTime64(3, 'UTC'),
    last_seq       UInt64,
    events_sent    UInt64,
    error          String,
    attempt        UInt32,
    worker         String,
    lease_until    DateTime64(3, 'UTC'),
    completed_at   Nullable(DateTime64(3, 'UTC'))
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant_id, destination_id, replay_id);
