-- A sync device's per-share preferences (api/realtime/sync-control-routes.ts). Setting them
-- nudges the device's sync sockets with `sync_preference_updated`; the device reads them back.
-- The newest write wins (ReplacingMergeTree on updated_at; reads take argMax, so unmerged parts
-- answer the same).
CREATE TABLE IF NOT EXISTS sync_preferences
(
    tenant_id   LowCardinality(String),
    user_id     String,
    device_id   String,
    share_id    String,
    preferences String,
    updated_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (tenant_id, user_id, device_id, share_id);
