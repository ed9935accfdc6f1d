// The canonical model: what every accepted event is normalised to, what the log carries
// (as JSON, or Avro with a schema registry) and what the store's rows hold.

export const CATEGORIES = [
  'authentication', 'authorization', 'file_access', 'file_modification', 'sharing', 'admin', 'security', 'compliance',
] as const;
export const SEVERITIES = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'] as const;
export const IDENTITY_TYPES = ['user', 'service_account', 'group'] as const;
export const RESOURCE_TYPES = ['file', 'folder', 'share'] as const;
export const CHANGE_TYPES = ['created', 'updated', 'deleted', 'moved', 'renamed'] as const;

/** The canonical audit event as carried by the log (before the sink adds seq and log position). */
export interface AuditEvent {
  id: string;
  tenant_id: string;
  partner_id: string;
  event_time: string; // ISO 8601 UTC with milliseconds
  event_type: string;
  action: string;
  category: string;
  severity: string;
  outcome: string; // success | failure | denied | error ...
  success: boolean;
  actor_id: string;
  actor_type: string;
  actor_email: string;
  service_account: string | null;
  resource_type: string;
  resource_id: string;
  resource_name: string;
  resource_path: string;
  share_id: string;
  source_ip: string;
  user_agent: string;
  request_id: string;
  duration_ms: number | null;
  action_source: string;
  details: string; // JSON text of an object
  source_format: 'canonical' | 'scaidrive' | 'scaivault';
}

/** The canonical ChangeLog entry as carried by the log. */
export interface ChangeEntry {
  id: string;
  tenant_id: string;
  resource_type: string;
  resource_id: string;
  change_type: string;
  changed_by: string;
  changed_at: string;
  metadata: string; // JSON text of an object
  old_path: string | null;
  new_path: string | null;
  version_id: string | null;
  share_id: string;
}

/** Columns the store sink adds to every row. */
export interface StoredPosition {
  seq: number;
  received_at: string;
  log_partition: number;
  log_offset: string; // UInt64 as a decimal string (JSONEachRow accepts it)
}

export type EventKind = 'audit' | 'change';
