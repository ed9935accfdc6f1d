-- ScaiKey's directory as its webhooks deliver it (api/webhooks/): users and groups per tenant, and
-- the deliveries already processed. Each row is a version of an entity; ReplacingMergeTree keeps
-- the highest `version` (the delivery's created_at in ms × 4 + its kind: created 0, updated 1,
-- deleted 2), and reads use FINAL, so deliveries arriving out of order converge on the newest and
-- a re-delivery (same version, same content) changes nothing. A deletion is a version with
-- `deleted`, kept so that an older update arriving late cannot bring the entity back.
CREATE TABLE IF NOT EXISTS scaikey_users
(
    tenant_id   LowCardinality(String),
    id          String,
    email       String,
    name        String,
    deleted     Bool,
    version     UInt64,
    delivery_id String,
    changed_at  DateTime64(3, 'UTC'),
    received_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant_id, id);

-- A group's members are part of its row: the newest delivery's list is the membership, whole, so
-- an older list arriving late can neither add nor remove a member.
CREATE TABLE IF NOT EXISTS scaikey_groups
(
    tenant_id   LowCardinality(String),
    id          String,
    email       String,
    name        String,
    members     Array(String),
    deleted     Bool,
    version     UInt64,
    delivery_id String,
    changed_at  DateTime64(3, 'UTC'),
    received_at DateTime64(3, 'UTC'),
    INDEX idx_members members TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant_id, id);

-- Deliveries already processed (the idempotency check): written last, once the delivery's audit
-- event is durable in the log and its directory row is stored.
CREATE TABLE IF NOT EXISTS scaikey_deliveries
(
    tenant_id   LowCardinality(String),
    id          String,
    type        LowCardinality(String),
    created_at  DateTime64(3, 'UTC'),
    received_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (tenant_id, id);
