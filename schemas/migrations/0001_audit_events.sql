-- The canonical audit event. Every API family (ScaiVault logs, admin audit, Egnyte events,
-- ScaiDrive audit) is a projection of this table. See ARCHITECTURE.md "Store" for why the
-- ordering key is (tenant_id, seq) and what the skip indexes serve.
CREATE TABLE IF NOT EXISTS audit_events
(
    tenant_id       LowCardinality(String),
    seq             UInt64,
    id              String,
    partner_id      LowCardinality(String),
    event_time      DateTime64(3, 'UTC'),
    received_at     DateTime64(3, 'UTC'),
    event_type      LowCardinality(String),
    action          LowCardinality(String),
    category        LowCardinality(String),
    severity        LowCardinality(String),
    outcome         LowCardinality(String),
    success         Bool,
    actor_id        String,
    actor_type      LowCardinality(String),
    actor_email     String,
    service_account Nullable(String),
    resource_type   LowCardinality(String),
    resource_id     String,
    resource_name   String,
    resource_path   String,
    share_id        String,
    source_ip       String,
    user_agent      String,
    request_id      String,
    duration_ms     Nullable(UInt32),
    action_source   LowCardinality(String),
    details         String,
    source_format   LowCardinality(String),
    log_partition   UInt16,
    log_offset      UInt64,
    INDEX idx_event_time event_time TYPE minmax GRANULARITY 1,
    INDEX idx_id id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_actor_id actor_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_request_id request_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_source_ip source_ip TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_action action TYPE set(256) GRANULARITY 1,
    INDEX idx_resource_path resource_path TYPE ngrambf_v1(4, 4096, 3, 0) GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (tenant_id, seq);
