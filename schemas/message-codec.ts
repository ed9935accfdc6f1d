// How events are written to and read from the log: JSON text, or — when a schema registry is
// configured — Avro in the Confluent wire format (magic byte 0, 4-byte big-endian schema id, Avro
// binary), with the schemas in schemas/avro/*.avsc registered under the configured subjects.
//
// Decoding accepts both forms whatever the configuration, so producers may use either: a leading
// 0x00 byte (never the start of JSON text) means Confluent framing. Avro written with another
// version of our record schemas (another id, same record name) is resolved into the current one
// by Avro's schema resolution; any other Avro record is decoded with its writer schema. Either
// way the result is a plain object shaped like the JSON form (null, not union wrappers).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { AuditflowError } from '../infra/errors.ts';
import type { AuditEvent, ChangeEntry, EventKind } from './event-model.ts';

export interface MessageCodec {
  /** Bytes for the log: JSON text, or Confluent wire format (magic 0, 4-byte schema id, Avro) when a registry is configured. */
  encode(kind: EventKind, value: AuditEvent | ChangeEntry): Promise<Buffer>;
  /** Accepts both JSON and Confluent-framed Avro (detected by the leading 0x00 magic byte), so producers may use either. Throws AuditflowError('VALIDATION_FAILED', …) for bytes that are neither. */
  decode(bytes: Buffer): Promise<unknown>;
  /** Present when encoding needs no I/O (JSON): ingest then avoids a promise per event. JSON is
   * returned as text, which the log writes as UTF-8 without a Buffer per event. */
  encodeSync?: (kind: EventKind, value: AuditEvent | ChangeEntry) => Buffer | string;
}

export interface AvroMessageCodec extends MessageCodec {
  /** The registry ids of the schemas this codec writes with. */
  readonly schemaIds: Readonly<Record<EventKind, number>>;
}

/** The Avro schemas (schemas/avro/*.avsc) as JSON text. */
export const AVRO_SCHEMA_FILES: Readonly<Record<EventKind, string>> = {
  audit: fileURLToPath(new URL('./avro/audit-event.avsc', import.meta.url)),
  change: fileURLToPath(new URL('./avro/change-entry.avsc', import.meta.url)),
};

export function avroSchemaText(kind: EventKind): string {
  return readFileSync(AVRO_SCHEMA_FILES[kind], 'utf8');
}

const MAGIC = 0;
const HEADER_BYTES = 5;

export function isConfluentFramed(bytes: Buffer): boolean {
  return bytes.length > 0 && bytes[0] === MAGIC;
}

function invalid(message: string, cause?: unknown): AuditflowError {
  return new AuditflowError('VALIDATION_FAILED', message, cause === undefined ? {} : { cause });
}

function decodeJson(bytes: Buffer): unknown {
  if (bytes.length === 0) throw invalid('empty message');
  let text = bytes.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a UTF-8 byte order mark
  try {
    return JSON.parse(text);
  } catch (e) {
    throw invalid(`message is neither JSON nor Confluent-framed Avro: ${(e as Error).message}`, e);
  }
}

function encodeJson(value: AuditEvent | ChangeEntry): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** JSON on the log. Confluent-framed Avro cannot be decoded without a registry and is rejected. */
export function jsonCodec(): MessageCodec {
  return {
    async encode(_kind, value) {
      return encodeJson(value);
    },
    encodeSync: (_kind, value) => JSON.stringify(value),
    async decode(bytes) {
      if (isConfluentFramed(bytes)) {
        const id = bytes.length >= HEADER_BYTES ? bytes.readInt32BE(1) : undefined;
        throw invalid(
          `message is Confluent-framed Avro${id === undefined ? '' : ` (schema id ${id})`}, but no schema registry is configured ` +
            '(configure the schema registry URL to read Avro messages)',
        );
      }
      return decodeJson(bytes);
    },
  };
}

// --- Avro ---------------------------------------------------------------------------------------

/** The parts of an avsc Type the codec uses (the registry client builds them with avsc). */
interface AvroType {
  readonly name?: string;
  fromBuffer(buffer: Buffer, resolver?: unknown, noCheck?: boolean): unknown;
  createResolver(writer: AvroType): unknown;
}

const RECORD_NAMES: Readonly<Record<EventKind, string>> = {
  audit: 'io.auditflow.AuditEvent',
  change: 'io.auditflow.ChangeEntry',
};

function registryFailure(what: string, e: unknown): AuditflowError {
  const msg = e instanceof Error ? e.message : String(e);
  return new AuditflowError('SCHEMA_REGISTRY_FAILED', `schema registry: ${what}: ${msg}`, { cause: e });
}

function httpStatus(e: unknown): number | undefined {
  const s = e && typeof e === 'object' ? (e as { status?: unknown }).status : undefined;
  return typeof s === 'number' ? s : undefined;
}

/** avsc decodes records as instances of generated classes; the log's consumers want plain data. */
function toPlain(v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Buffer.isBuffer(v)) return v;
  if (Array.isArray(v)) return v.map(toPlain);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = toPlain(x);
  return out;
}

/**
 * Avro through a Confluent schema registry. Both schemas are looked up under their subjects and
 * registered when absent (the subject's compatibility level must then be BACKWARD, the client's
 * default), so creation fails fast — SCHEMA_REGISTRY_FAILED — when the registry is unreachable.
 */
export async function avroCodec(registryUrl: string, subjects: { audit: string; change: string }): Promise<AvroMessageCodec> {
  const registry = new SchemaRegistry({ host: registryUrl.replace(/\/+$/, ''), clientId: 'auditflow' });
  const ids = {} as Record<EventKind, number>;
  const readers = {} as Record<EventKind, AvroType>;

  for (const kind of ['audit', 'change'] as const) {
    const subject = subjects[kind];
    const confluentSchema = { type: SchemaType.AVRO, schema: avroSchemaText(kind) } as const;
    let id: number | undefined;
    try {
      id = await registry.getRegistryIdBySchema(subject, confluentSchema);
    } catch (e) {
      // 404 (subject or schema not registered) surfaces as ConfluentSchemaRegistryError without a status.
      if (httpStatus(e) !== undefined || (e as Error).name !== 'ConfluentSchemaRegistryError') {
        throw registryFailure(`cannot look up the ${kind} schema under subject ${subject}`, e);
      }
    }
    if (id === undefined) {
      try {
        id = (await registry.register(confluentSchema, { subject })).id;
      } catch (e) {
        throw registryFailure(`cannot register the ${kind} schema under subject ${subject}`, e);
      }
    }
    try {
      readers[kind] = (await registry.getSchema(id)) as unknown as AvroType;
    } catch (e) {
      throw registryFailure(`cannot fetch schema ${id}`, e);
    }
    ids[kind] = id;
  }

  // Per writer schema id: how to decode its payloads (resolvers are built once).
  const decoders = new Map<number, Promise<(payload: Buffer) => unknown>>();

  async function writerType(id: number): Promise<AvroType> {
    try {
      return (await registry.getSchema(id)) as unknown as AvroType;
    } catch (e) {
      const status = httpStatus(e);
      if (status !== undefined && status >= 400 && status < 500) {
        throw invalid(`Avro message written with schema id ${id}, which the schema registry does not know (${(e as Error).message})`, e);
      }
      if (e instanceof Error && e.name === 'ConfluentSchemaRegistryArgumentError') {
        throw invalid(`Avro message written with schema id ${id}, which is not a usable Avro schema: ${e.message}`, e);
      }
      throw registryFailure(`cannot fetch schema ${id}`, e);
    }
  }

  function decoderFor(id: number): Promise<(payload: Buffer) => unknown> {
    let d = decoders.get(id);
    if (!d) {
      d = (async () => {
        const writer = await writerType(id);
        const kind = (Object.keys(RECORD_NAMES) as EventKind[]).find((k) => ids[k] !== id && RECORD_NAMES[k] === writer.name);
        if (kind === undefined) return (payload: Buffer) => writer.fromBuffer(payload);
        const reader = readers[kind];
        let resolver: unknown;
        try {
          resolver = reader.createResolver(writer);
        } catch (e) {
          throw invalid(`Avro schema id ${id} (${writer.name}) cannot be read as the current ${writer.name}: ${(e as Error).message}`, e);
        }
        return (payload: Buffer) => reader.fromBuffer(payload, resolver);
      })();
      decoders.set(id, d);
      // Do not cache failures: the registry may be back, or the schema registered, next time.
      d.catch(() => { if (decoders.get(id) === d) decoders.delete(id); });
    }
    return d;
  }

  return {
    schemaIds: { ...ids },
    async encode(kind, value) {
      try {
        return await registry.encode(ids[kind], value);
      } catch (e) {
        if (e instanceof Error && e.name === 'ConfluentSchemaRegistryValidationError') {
          const paths = (e as Error & { paths?: string[][] }).paths ?? [];
          throw new AuditflowError('VALIDATION_FAILED', `value does not match the ${kind} Avro schema: ${e.message}`, {
            cause: e,
            details: paths.map((p) => ({ path: p.join('.'), message: 'invalid value for the Avro schema' })),
          });
        }
        throw registryFailure(`cannot encode a ${kind} event`, e);
      }
    },
    async decode(bytes) {
      if (!isConfluentFramed(bytes)) return decodeJson(bytes);
      if (bytes.length < HEADER_BYTES) throw invalid(`Confluent-framed message too short (${bytes.length} bytes)`);
      const id = bytes.readInt32BE(1);
      const decode = await decoderFor(id);
      try {
        return toPlain(decode(bytes.subarray(HEADER_BYTES)));
      } catch (e) {
        throw invalid(`Avro payload does not match schema id ${id}: ${(e as Error).message}`, e);
      }
    },
  };
}
