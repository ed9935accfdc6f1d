// Where an SSE stream stands, as its events' `id:` — and so what a client's Last-Event-ID asks
// to resume after. A stream spans tenants (partner and platform scopes), and each tenant's seq
// is its own, so the position is per log partition instead: the highest log offset delivered on
// each partition of the audit topic. Within a partition the sink stores events in offset order
// (a tenant lives on one partition, its seq follows the offsets), so "every stored event with a
// larger offset on its partition" is exactly what came after — for any scope, in a few bytes
// (one pair per partition), and the same on every API node, since offsets are the log's.
//
// Text form: `<partition>:<offset>` pairs joined by `,`, e.g. `0:1523,1:884`. A partition absent
// from it had nothing stored when the stream started: all of it is after. Nothing stored at all is
// `start` (an empty id would not do: a client does not send an empty Last-Event-ID back).
import { AuditflowError } from '../../infra/errors.ts';

export type Position = Map<number, number>;

const START = 'start';

export function encodePosition(p: Position): string {
  if (p.size === 0) return START;
  return [...p].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k}:${v}`).join(',');
}

const PAIR = /^(\d{1,5}):(\d{1,16})$/;

/** Parses a Last-Event-ID; 400 EVENT_ID_INVALID when it is not one of ours. */
export function decodePosition(text: string): Position {
  const p: Position = new Map();
  if (text.trim() === START) return p;
  for (const part of text.split(',')) {
    const m = PAIR.exec(part.trim());
    if (!m) throw new AuditflowError('EVENT_ID_INVALID', `Last-Event-ID ${JSON.stringify(text.slice(0, 64))} is not an event id of this stream`);
    p.set(Number(m[1]), Number(m[2]));
  }
  return p;
}
