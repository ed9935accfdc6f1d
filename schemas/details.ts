// An event's `details` column is JSON text of an object. Readers that hand it on as an object
// (the SSE stream, SIEM forwarding) read it the same way: anything else becomes {}.

/** `details` text as an object; invalid JSON, an array, a number or an empty text become {}. */
export function parseDetailsObject(text: unknown): Record<string, unknown> {
  if (typeof text !== 'string' || text === '') return {};
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
