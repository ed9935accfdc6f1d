-- The per-tenant ScaiDrive ChangeLog: append-only, ordered by seq (the sync cursor).
CREATE TABLE IF NOT EXISTS change_log
(
    tenant_id     LowCardinality(String),
    seq           UInt64,
    id            String,
    resource_type LowCardinality(String),
    resource_id   String,
    change_type   LowCardinality(String),
    changed_by    String,
    changed_at    DateTime64(3, 'UTC'),
    received_at   DateTime64(3, 'UTC'),
    metadata      String,
    old_path      Nullable(String),
    new_path      Nullable(String),
    version_id    Nullable(String),
    share_id      String,
    log_partition UInt16,
    log_offset    UInt64,
    INDEX idx_changed_at changed_at TYPE minmax GRANULARITY 1,
    INDEX idx_id id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_share_id share_id TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (tenant_id, seq);
