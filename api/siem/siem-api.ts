// The SIEM destinations family (issue 12): scope audit:admin, the token's own tenant only, behind
// the API's token hook. Destinations, their test send, pause/resume, dead letters and redrive,
// replays and delivery health. The records live in the store (processors/siem/); the forwarder
// (the lead's processors/siem/forwarder.ts) reads them and delivers.
import type { FastifyInstance } from 'fastify';
import type { Authenticator } from '../../infra/auth/jwt.ts';
import type { Store } from '../../infra/store/store.ts';
import type { AuditEvent } from '../../schemas/event-model.ts';
import { DeadLetters } from '../../processors/siem/dead-letters.ts';
import { DeliveryHealth } from '../../processors/siem/delivery-health.ts';
import { Destinations } from '../../processors/siem/destinations.ts';
import { Replays } from '../../processors/siem/replays.ts';
import type { DestinationConfig, SiemSender } from '../../processors/siem/siem-types.ts';
import { authenticate } from '../auth-plugin.ts';
import type { HighWater } from '../query/high-water.ts';
import type { SelfAudit } from '../self-audit.ts';
import { deliveryRoutes } from './delivery-routes.ts';
import { destinationRoutes } from './destination-routes.ts';

export interface SiemApiDeps {
  store: Store;
  /** The tenant's readable seq when a replay is requested (the replay's snapshot). */
  highWater: HighWater;
  /** Records reads of audit data (dead letters hold events) and redrives (they disclose events to the receiver). */
  selfAudit: SelfAudit;
  /** Appends an audit event to the log (durable when it resolves). */
  appendAudit(event: AuditEvent): Promise<void>;
  /** A sender for the test event and redrives (infra/siem/sender-factory.ts createSender in the product). */
  senderFor(dest: DestinationConfig, opts?: { timeoutMs?: number }): SiemSender;
  /** Told when destinations or replays changed: an in-process forwarder reacts now instead of at its next poll. */
  onChanged?: ((what: 'destinations' | 'replays') => void) | undefined;
  /** How long the test send and each redrive send may take (default 10 s). */
  sendTimeoutMs?: number | undefined;
  /** Live destinations a tenant may have (each is a consumer group reading the whole audit topic). */
  maxDestinations?: number | undefined;
}

export interface SiemRecords {
  destinations: Destinations;
  deadLetters: DeadLetters;
  health: DeliveryHealth;
  replays: Replays;
}

export async function siemApi(app: FastifyInstance, deps: SiemApiDeps & { auth: Authenticator }): Promise<void> {
  app.addHook('onRequest', authenticate(deps.auth));
  // PATCH bodies are RFC 7396 merge patches; their media type parses as JSON (in this family only).
  app.addContentTypeParser('application/merge-patch+json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));
  const records: SiemRecords = {
    destinations: new Destinations(deps.store), deadLetters: new DeadLetters(deps.store),
    health: new DeliveryHealth(deps.store), replays: new Replays(deps.store),
  };
  await destinationRoutes(app, deps, records);
  await deliveryRoutes(app, deps, records);
}
