// Canonical audit events for the SIEM tests: the ScaiDrive document's example as the log carries it.
import type { AuditEvent } from '../../schemas/event-model.ts';

export function auditEvent(over: Partial<AuditEvent> = {}): AuditEvent {
  return {
    id: 'aud_01J3L', tenant_id: 'tnt_01J3A', partner_id: '', event_time: '2026-04-23T10:15:05.123Z',
    event_type: 'file.create', action: 'create', category: 'file_modification', severity: 'info',
    outcome: 'success', success: true, actor_id: 'usr_01J3N', actor_type: 'user', actor_email: 'alice@example.com',
    service_account: null, resource_type: 'file', resource_id: 'fil_01J3M', resource_name: 'job_42.mp3',
    resource_path: '/shares/a/job_42.mp3', share_id: 'shr_01J3K', source_ip: '203.0.113.7', user_agent: 'ScaiSpeak/1.0',
    request_id: 'req_1', duration_ms: 12, action_source: 'api', details: '{"version":1,"size":22300000}', source_format: 'scaidrive',
    ...over,
  };
}
