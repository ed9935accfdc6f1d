// The log's wire format: the headers every record carries, shared by what writes the log (ingest,
// the self-audit recorder, the sink's re-keying) and what reads it (the processors).
//
// `af-format: log-v1` with `af-tenant` and `af-id` says the value is an event already validated
// and normalised to the log form by our own code, as JSON bytes: a reader may pass it to the
// store untouched. Anything without them is decoded and validated again.

export const LOG_FORMAT_HEADER = 'af-format';
export const LOG_FORMAT = 'log-v1';
export const TENANT_HEADER = 'af-tenant';
export const ID_HEADER = 'af-id';

/** Dead letters: why the message could not be stored, and where it came from. */
export const DLQ_HEADERS = {
  reason: 'af-dlq-reason',
  code: 'af-dlq-code',
  topic: 'af-dlq-topic',
  partition: 'af-dlq-partition',
  offset: 'af-dlq-offset',
} as const;

/** The headers of a record in the log form. */
export function logHeaders(ev: { tenantId: string; id: string }): Record<string, string> {
  // Literal keys (the same strings as the constants): one object shape, no computed-key path.
  return { 'af-format': LOG_FORMAT, 'af-tenant': ev.tenantId, 'af-id': ev.id };
}
