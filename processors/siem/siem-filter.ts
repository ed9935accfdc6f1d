// Which events a destination wants: its DestinationFilter compiled once into a predicate (the
// forwarder tests every event of every batch against it).
import { SEVERITIES } from '../../schemas/event-model.ts';
import type { DestinationFilter } from './siem-types.ts';

/** The fields a filter reads (a ForwardedEvent, or the canonical AuditEvent). */
export type FilterableEvent = { category: string; severity: string; event_type: string };

const RANK = new Map<string, number>(SEVERITIES.map((s, i) => [s, i]));
const INFO = RANK.get('info') ?? 1;

/** A severity's place in SEVERITIES (debug 0 … emergency 7); an unknown one ranks as `info`. */
export function severityRank(severity: string): number {
  return RANK.get(severity.toLowerCase()) ?? INFO;
}

/**
 * Every condition given must hold. An absent or empty list does not restrict (`categories: []`
 * means every category, so clearing a list in a PATCH widens rather than stops forwarding).
 */
export function compileFilter(filter: DestinationFilter | null | undefined): (e: FilterableEvent) => boolean {
  const categories = filter?.categories?.length ? new Set(filter.categories) : null;
  const eventTypes = filter?.event_types?.length ? new Set(filter.event_types) : null;
  const min = filter?.min_severity ? severityRank(filter.min_severity) : 0;
  if (!categories && !eventTypes && min === 0) return () => true;
  return (e) => (categories === null || categories.has(e.category))
    && (eventTypes === null || eventTypes.has(e.event_type))
    && severityRank(e.severity) >= min;
}
