// Results as values: a processor never throws for bad data. `ok` carries the normalised event
// (its JSON text in the log form), `dlq` the reason it goes to the dead-letter topic.
export interface ProcessedEvent {
  tenantId: string;
  id: string;
  /** The event as JSON object bytes in the log form (store columns minus seq and position). */
  body: Buffer;
}

export type Outcome =
  /** `change`: the ChangeLog row the event also writes (a permission change: ./permission-change.ts). */
  | { kind: 'ok'; event: ProcessedEvent; change?: ProcessedEvent }
  | { kind: 'dlq'; code: string; reason: string };

export const ok = (event: ProcessedEvent): Outcome => ({ kind: 'ok', event });
export const okWithChange = (event: ProcessedEvent, change: ProcessedEvent): Outcome => ({ kind: 'ok', event, change });
export const dlq = (code: string, reason: string): Outcome => ({ kind: 'dlq', code, reason });
