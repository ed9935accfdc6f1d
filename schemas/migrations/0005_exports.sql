-- Export jobs and schedules (processors/export/, api/exports/). The store is the durable queue:
-- every change of a job is a new version row (ReplacingMergeTree on version); reads take the
-- newest version per job with FINAL. A worker owns a job while its lease runs (lease_until) and
-- records progress (parts done, the seq they end at) so a crashed job resumes where it stopped.
CREATE TABLE IF NOT EXISTS export_jobs
(
    tenant_id         LowCardinality(String),
    export_id         String,
    version           UInt64,
    status            LowCardinality(String),
    schedule_id       String,
    spec              String,
    created_at        DateTime64(3, 'UTC'),
    updated_at        DateTime64(3, 'UTC'),
    estimated_records UInt64,
    record_count      UInt64,
    progress          String,
    error             String,
    cancel_requested  Bool,
    attempt           UInt32,
    worker            String,
    lease_until       DateTime64(3, 'UTC'),
    completed_at      Nullable(DateTime64(3, 'UTC'))
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant_id, export_id);

-- A schedule's windows: last_window_end is the end of the newest window it has queued an export
-- for, so runs missed while the service was down are caught up, each window exactly once.
CREATE TABLE IF NOT EXISTS export_schedules
(
    tenant_id       LowCardinality(String),
    schedule_id     String,
    version         UInt64,
    cron            String,
    window_kind     LowCardinality(String),
    spec            String,
    created_at      DateTime64(3, 'UTC'),
    last_window_end Nullable(DateTime64(3, 'UTC')),
    deleted         Bool
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant_id, schedule_id);
