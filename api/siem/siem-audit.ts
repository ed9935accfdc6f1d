// Changing where a tenant's audit trail goes is itself audited, like export_created: creating,
// updating (pause and resume included: they stop and restart forwarding), deleting a destination
// and requesting a replay are audit events (category admin) appended to the log before the API
// answers. Their details show the destination as the API does — secrets never.
import type { FastifyRequest } from 'fastify';
import type { AuditEvent } from '../../schemas/event-model.ts';
import { newAuditId } from '../../schemas/ids.ts';
import { publicConfig, type Destination } from '../../processors/siem/destinations.ts';

export type DestinationAction = 'siem_destination_created' | 'siem_destination_updated' | 'siem_destination_deleted' | 'siem_replay_requested';

/** Where a destination sends, without query string or secrets (the event's resource_path). */
export function destinationEndpoint(d: Destination): string {
  if (d.type === 'syslog') return `syslog+${d.config.transport}://${d.config.host}:${d.config.port}`;
  const u = new URL(d.config.url);
  return `${u.origin}${u.pathname}`;
}

export function destinationAuditEvent(req: FastifyRequest, action: DestinationAction, d: Destination, details: Record<string, unknown> = {}): AuditEvent {
  const p = req.principal;
  return {
    id: newAuditId(), tenant_id: d.tenantId, partner_id: p.partnerId ?? '', event_time: new Date().toISOString(),
    event_type: `audit.${action}`, action, category: 'admin', severity: action === 'siem_destination_deleted' ? 'notice' : 'info',
    outcome: 'success', success: true, actor_id: p.subject, actor_type: p.serviceAccount !== null ? 'service_account' : 'user',
    actor_email: p.email ?? '', service_account: p.serviceAccount, resource_type: 'siem_destination', resource_id: d.destinationId,
    resource_name: d.name, resource_path: destinationEndpoint(d), share_id: '', source_ip: req.ip,
    user_agent: String(req.headers['user-agent'] ?? '').slice(0, 1024), request_id: String(req.id), duration_ms: null,
    action_source: 'PublicAPI',
    details: JSON.stringify({
      destination_id: d.destinationId, name: d.name, type: d.type, config: publicConfig(d), filter: d.filter, start: d.start, status: d.status,
      ...details,
    }),
    source_format: 'canonical',
  };
}
