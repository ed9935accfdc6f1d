// A Confluent Schema Registry for tests (none exists in npm or Debian): an in-process HTTP server
// speaking the REST API subset that @kafkajs/confluent-schema-registry 3.9 uses, with Confluent's
// content type, status codes and error bodies ({"error_code": 40401, "message": ...}).
//
//   GET  /schemas/ids/{id}                    POST /subjects/{subject}/versions     (register)
//   GET  /schemas/types                       POST /subjects/{subject}              (lookup)
//   GET  /subjects                            GET  /subjects/{subject}/versions
//   GET  /subjects/{subject}/versions/{version|latest|-1}
//   GET|PUT /config      GET|PUT /config/{subject}
//   POST /compatibility/subjects/{subject}/versions/{version|latest}
//
// Ids are global and a schema registered again (under any subject) keeps its id; registering a
// schema the subject already has returns the existing id without a new version. Compatibility is
// checked for Avro with the Avro resolution rules that matter for records (fields matched by
// name, new reader fields need defaults, numeric promotions, unions, arrays, maps, enums);
// JSON and PROTOBUF schemas are stored but always compatible. No deletes, no modes, no contexts.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';
const LEVELS = ['NONE', 'BACKWARD', 'BACKWARD_TRANSITIVE', 'FORWARD', 'FORWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE'] as const;
type Level = (typeof LEVELS)[number];

interface Reference { name: string; subject: string; version: number }
interface StoredSchema { id: number; schemaType: string; schema: string; references: Reference[]; key: string }
interface Version { version: number; id: number }

class HttpError extends Error {
  constructor(readonly status: number, readonly errorCode: number, message: string) {
    super(message);
  }
}

const subjectNotFound = (s: string) => new HttpError(404, 40401, `Subject '${s}' not found.`);
const versionNotFound = (v: string | number) => new HttpError(404, 40402, `Version ${v} not found.`);
const schemaNotFound = (what = 'Schema not found') => new HttpError(404, 40403, what);
const invalidVersion = (v: string) =>
  new HttpError(422, 42202, `The specified version '${v}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string "latest"`);
const invalidLevel = () =>
  new HttpError(422, 42203, 'Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive');

// --- Avro compatibility (reader can read data written with writer) --------------------------------

type Avro = unknown;
const PRIMITIVES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);
const PROMOTIONS: Record<string, string[]> = {
  int: ['int'], long: ['int', 'long'], float: ['int', 'long', 'float'], double: ['int', 'long', 'float', 'double'],
  string: ['string', 'bytes'], bytes: ['bytes', 'string'],
};

class AvroNames {
  readonly named = new Map<string, Record<string, unknown>>();
  constructor(root: Avro) { this.collect(root, ''); }
  private collect(t: Avro, ns: string): void {
    if (Array.isArray(t)) { t.forEach((b) => this.collect(b, ns)); return; }
    if (!t || typeof t !== 'object') return;
    const o = t as Record<string, unknown>;
    if (typeof o['type'] === 'object') { this.collect(o['type'], ns); return; }
    if (['record', 'error', 'enum', 'fixed'].includes(String(o['type'])) && typeof o['name'] === 'string') {
      const ownNs = typeof o['namespace'] === 'string' ? o['namespace'] : ns;
      const name = o['name'].includes('.') || !ownNs ? o['name'] : `${ownNs}.${o['name']}`;
      this.named.set(name, o);
      this.named.set(name.split('.').pop() ?? name, o);
      const inner = name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : '';
      for (const f of (o['fields'] as Array<Record<string, unknown>> | undefined) ?? []) this.collect(f['type'], inner);
    }
    if (o['type'] === 'array') this.collect(o['items'], ns);
    if (o['type'] === 'map') this.collect(o['values'], ns);
  }
  resolve(t: Avro): Avro {
    if (typeof t === 'string' && !PRIMITIVES.has(t)) return this.named.get(t) ?? this.named.get(t.split('.').pop() ?? t) ?? t;
    if (t && typeof t === 'object' && !Array.isArray(t) && typeof (t as Record<string, unknown>)['type'] === 'string'
      && PRIMITIVES.has((t as Record<string, string>)['type'] ?? '') && Object.keys(t).every((k) => k === 'type' || k === 'logicalType' || k === 'precision' || k === 'scale')) {
      return (t as Record<string, string>)['type'];
    }
    return t;
  }
}

function kindOf(t: Avro): string {
  if (Array.isArray(t)) return 'union';
  if (typeof t === 'string') return t;
  if (t && typeof t === 'object') {
    const ty = (t as Record<string, unknown>)['type'];
    return typeof ty === 'string' ? (ty === 'error' ? 'record' : ty) : kindOf(ty);
  }
  return 'invalid';
}

function canRead(reader: Avro, writer: Avro, rn: AvroNames, wn: AvroNames, path: string, problems: string[], seen = new Set<string>()): boolean {
  const r = rn.resolve(reader);
  const w = wn.resolve(writer);
  const rk = kindOf(r);
  const wk = kindOf(w);
  if (wk === 'union') {
    return (w as Avro[]).every((b, i) => canRead(r, b, rn, wn, `${path}[writer branch ${i}]`, problems, seen));
  }
  if (rk === 'union') {
    const scratch: string[] = [];
    if ((r as Avro[]).some((b) => canRead(b, w, rn, wn, path, scratch, seen))) return true;
    problems.push(`${path}: reader union has no branch for writer type ${wk}`);
    return false;
  }
  if (PRIMITIVES.has(rk)) {
    if (rk === wk || (PROMOTIONS[rk] ?? []).includes(wk)) return true;
    problems.push(`${path}: reader type ${rk} cannot read writer type ${wk}`);
    return false;
  }
  if (rk !== wk) {
    problems.push(`${path}: reader type ${rk} cannot read writer type ${wk}`);
    return false;
  }
  const ro = r as Record<string, unknown>;
  const wo = w as Record<string, unknown>;
  switch (rk) {
    case 'array':
      return canRead(ro['items'], wo['items'], rn, wn, `${path}[]`, problems, seen);
    case 'map':
      return canRead(ro['values'], wo['values'], rn, wn, `${path}{}`, problems, seen);
    case 'enum': {
      const rs = new Set((ro['symbols'] as string[] | undefined) ?? []);
      const missing = ((wo['symbols'] as string[] | undefined) ?? []).filter((s) => !rs.has(s));
      if (missing.length === 0 || ro['default'] !== undefined) return true;
      problems.push(`${path}: reader enum lacks symbols ${missing.join(', ')}`);
      return false;
    }
    case 'fixed':
      if (ro['size'] === wo['size']) return true;
      problems.push(`${path}: fixed size ${String(ro['size'])} != ${String(wo['size'])}`);
      return false;
    case 'record': {
      const pair = `${String(ro['name'])}<-${String(wo['name'])}`;
      if (seen.has(pair)) return true; // recursive type already being compared
      seen.add(pair);
      const wf = new Map(((wo['fields'] as Array<Record<string, unknown>> | undefined) ?? []).map((f) => [String(f['name']), f]));
      let ok = true;
      for (const f of (ro['fields'] as Array<Record<string, unknown>> | undefined) ?? []) {
        const name = String(f['name']);
        const aliases = (f['aliases'] as string[] | undefined) ?? [];
        const match = wf.get(name) ?? aliases.map((a) => wf.get(a)).find(Boolean);
        if (match) {
          ok = canRead(f['type'], match['type'], rn, wn, `${path}.${name}`, problems, seen) && ok;
        } else if (!('default' in f)) {
          problems.push(`${path}.${name}: reader field missing from writer and has no default`);
          ok = false;
        }
      }
      return ok;
    }
    default:
      problems.push(`${path}: unsupported type ${rk}`);
      return false;
  }
}

/** Problems found checking `candidate` against each of `existing` under `level` (empty: compatible). */
function avroCompatible(level: Level, candidate: string, existing: string[]): string[] {
  const problems: string[] = [];
  const cand = JSON.parse(candidate) as Avro;
  const cn = new AvroNames(cand);
  for (const e of existing) {
    const old = JSON.parse(e) as Avro;
    const on = new AvroNames(old);
    if (level.startsWith('BACKWARD') || level.startsWith('FULL')) canRead(cand, old, cn, on, '', problems);
    if (level.startsWith('FORWARD') || level.startsWith('FULL')) canRead(old, cand, on, cn, '', problems);
  }
  return problems;
}

function validateAvro(t: Avro, names: AvroNames): void {
  const k = kindOf(t);
  if (PRIMITIVES.has(k)) return;
  if (k === 'union') { (t as Avro[]).forEach((b) => validateAvro(b, names)); return; }
  if (typeof t === 'string') {
    if (!names.named.has(t) && !names.named.has(t.split('.').pop() ?? t)) throw new Error(`Unknown type: ${t}`);
    return;
  }
  const o = t as Record<string, unknown>;
  if (typeof o['type'] === 'object') { validateAvro(o['type'], names); return; }
  switch (k) {
    case 'record':
      if (typeof o['name'] !== 'string' || !Array.isArray(o['fields'])) throw new Error('record needs a name and fields');
      for (const f of o['fields'] as Array<Record<string, unknown>>) {
        if (typeof f['name'] !== 'string' || f['type'] === undefined) throw new Error('every field needs a name and a type');
        validateAvro(f['type'], names);
      }
      return;
    case 'enum':
      if (typeof o['name'] !== 'string' || !Array.isArray(o['symbols'])) throw new Error('enum needs a name and symbols');
      return;
    case 'fixed':
      if (typeof o['name'] !== 'string' || typeof o['size'] !== 'number') throw new Error('fixed needs a name and a size');
      return;
    case 'array': validateAvro(o['items'], names); return;
    case 'map': validateAvro(o['values'], names); return;
    default: throw new Error(`Unknown type: ${k}`);
  }
}

// --- the server ---------------------------------------------------------------------------------

export interface SchemaRegistryServer {
  url: string;
  stop(): Promise<void>;
}

export async function startSchemaRegistry(): Promise<SchemaRegistryServer> {
  const schemasById = new Map<number, StoredSchema>();
  const idByKey = new Map<string, number>();
  const subjects = new Map<string, Version[]>();
  const subjectLevels = new Map<string, Level>();
  let globalLevel: Level = 'BACKWARD';
  let nextId = 1;

  function schemaView(s: StoredSchema): Record<string, unknown> {
    return {
      ...(s.schemaType !== 'AVRO' ? { schemaType: s.schemaType } : {}),
      ...(s.references.length > 0 ? { references: s.references } : {}),
      schema: s.schema,
    };
  }

  function parseSchemaBody(body: unknown): { schemaType: string; schema: string; references: Reference[]; key: string } {
    if (!body || typeof body !== 'object') throw new HttpError(422, 42201, 'Invalid schema: request body must be a JSON object');
    const b = body as Record<string, unknown>;
    const schemaType = b['schemaType'] == null ? 'AVRO' : String(b['schemaType']).toUpperCase();
    if (!['AVRO', 'JSON', 'PROTOBUF'].includes(schemaType)) throw new HttpError(422, 42201, `Invalid schema: unknown schema type ${schemaType}`);
    if (typeof b['schema'] !== 'string') throw new HttpError(422, 42201, 'Invalid schema: "schema" must be a string');
    const references = Array.isArray(b['references']) ? (b['references'] as Reference[]) : [];
    for (const ref of references) {
      const versions = subjects.get(ref.subject);
      if (!versions?.some((v) => v.version === ref.version)) throw new HttpError(422, 42201, `Invalid schema: reference ${ref.name} (${ref.subject} v${ref.version}) not found`);
    }
    let schema = b['schema'];
    if (schemaType !== 'PROTOBUF') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(schema);
      } catch (e) {
        throw new HttpError(422, 42201, `Invalid schema ${schema.slice(0, 200)}: ${(e as Error).message}`);
      }
      if (schemaType === 'AVRO' && references.length === 0) {
        try {
          validateAvro(parsed, new AvroNames(parsed));
        } catch (e) {
          throw new HttpError(422, 42201, `Invalid schema ${schema.slice(0, 200)}: ${(e as Error).message}`);
        }
      }
      schema = JSON.stringify(parsed); // canonical form: compact JSON, as Confluent returns it
    }
    return { schemaType, schema, references, key: JSON.stringify([schemaType, schema, references]) };
  }

  function versionOf(subject: string, raw: string): Version {
    const versions = subjects.get(subject);
    if (!versions || versions.length === 0) throw subjectNotFound(subject);
    if (raw === 'latest' || raw === '-1') return versions[versions.length - 1] as Version;
    if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 2 ** 31 - 1) throw invalidVersion(raw);
    const v = versions.find((x) => x.version === Number(raw));
    if (!v) throw versionNotFound(raw);
    return v;
  }

  function levelOf(subject: string): Level {
    return subjectLevels.get(subject) ?? globalLevel;
  }

  function incompatibilities(level: Level, candidate: { schemaType: string; schema: string }, existing: StoredSchema[]): string[] {
    if (level === 'NONE' || existing.length === 0 || candidate.schemaType !== 'AVRO') return [];
    const avro = existing.filter((s) => s.schemaType === 'AVRO').map((s) => s.schema);
    return avro.length === 0 ? [] : avroCompatible(level, candidate.schema, avro);
  }

  function parseLevel(body: unknown): Level {
    const c = body && typeof body === 'object' ? (body as Record<string, unknown>)['compatibility'] : undefined;
    const level = typeof c === 'string' ? c.toUpperCase() : '';
    if (!(LEVELS as readonly string[]).includes(level)) throw invalidLevel();
    return level as Level;
  }

  function route(method: string, parts: string[], query: URLSearchParams, body: unknown): unknown {
    const [p0, p1, p2, p3, p4] = parts;
    const n = parts.length;
    // /schemas
    if (p0 === 'schemas' && n === 1 && method === 'GET') {
      return [...schemasById.values()].map((s) => ({ subject: null, ...schemaView(s), id: s.id }));
    }
    if (p0 === 'schemas' && p1 === 'types' && n === 2 && method === 'GET') return ['JSON', 'PROTOBUF', 'AVRO'];
    if (p0 === 'schemas' && p1 === 'ids' && n >= 3 && p2 !== undefined) {
      const s = /^\d+$/.test(p2) ? schemasById.get(Number(p2)) : undefined;
      if (n === 3 && method === 'GET') {
        if (!s) throw schemaNotFound(`Schema ${p2} not found`);
        return schemaView(s);
      }
      if (n === 4 && p3 === 'versions' && method === 'GET') {
        if (!s) throw schemaNotFound(`Schema ${p2} not found`);
        const out: Array<{ subject: string; version: number }> = [];
        for (const [subject, versions] of subjects) for (const v of versions) if (v.id === s.id) out.push({ subject, version: v.version });
        return out;
      }
    }
    // /subjects
    if (p0 === 'subjects' && n === 1 && method === 'GET') return [...subjects.keys()].filter((s) => (subjects.get(s)?.length ?? 0) > 0).sort();
    if (p0 === 'subjects' && p1 !== undefined) {
      const subject = p1;
      if (n === 2 && method === 'POST') {
        const c = parseSchemaBody(body);
        const versions = subjects.get(subject);
        if (!versions || versions.length === 0) throw subjectNotFound(subject);
        const id = idByKey.get(c.key);
        const v = id === undefined ? undefined : versions.find((x) => x.id === id);
        if (!v) throw schemaNotFound();
        return { subject, version: v.version, id: v.id, ...schemaView(schemasById.get(v.id) as StoredSchema) };
      }
      if (n === 3 && p2 === 'versions' && method === 'GET') {
        const versions = subjects.get(subject);
        if (!versions || versions.length === 0) throw subjectNotFound(subject);
        return versions.map((v) => v.version);
      }
      if (n === 3 && p2 === 'versions' && method === 'POST') {
        const c = parseSchemaBody(body);
        const versions = subjects.get(subject) ?? [];
        const known = idByKey.get(c.key);
        if (known !== undefined && versions.some((v) => v.id === known)) return { id: known };
        const level = levelOf(subject);
        const existing = versions.map((v) => schemasById.get(v.id) as StoredSchema);
        const problems = incompatibilities(level, c, level.endsWith('_TRANSITIVE') ? existing : existing.slice(-1));
        if (problems.length > 0) {
          throw new HttpError(409, 409, `Schema being registered is incompatible with an earlier schema for subject "${subject}", details: [${problems.join('; ')}]`);
        }
        let id = known;
        if (id === undefined) {
          id = nextId++;
          schemasById.set(id, { id, schemaType: c.schemaType, schema: c.schema, references: c.references, key: c.key });
          idByKey.set(c.key, id);
        }
        versions.push({ version: (versions[versions.length - 1]?.version ?? 0) + 1, id });
        subjects.set(subject, versions);
        return { id };
      }
      if (n === 4 && p2 === 'versions' && p3 !== undefined && method === 'GET') {
        const v = versionOf(subject, p3);
        return { subject, version: v.version, id: v.id, ...schemaView(schemasById.get(v.id) as StoredSchema) };
      }
      if (n === 5 && p2 === 'versions' && p3 !== undefined && p4 === 'schema' && method === 'GET') {
        return JSON.parse((schemasById.get(versionOf(subject, p3).id) as StoredSchema).schema);
      }
    }
    // /config
    if (p0 === 'config' && n === 1) {
      if (method === 'GET') return { compatibilityLevel: globalLevel };
      if (method === 'PUT') { globalLevel = parseLevel(body); return { compatibility: globalLevel }; }
    }
    if (p0 === 'config' && n === 2 && p1 !== undefined) {
      if (method === 'GET') {
        const level = subjectLevels.get(p1);
        if (level) return { compatibilityLevel: level };
        if (query.get('defaultToGlobal') === 'true') return { compatibilityLevel: globalLevel };
        throw new HttpError(404, 40408, `Subject '${p1}' does not have subject-level compatibility configured`);
      }
      if (method === 'PUT') {
        const level = parseLevel(body);
        subjectLevels.set(p1, level);
        return { compatibility: level };
      }
    }
    // /compatibility
    if (p0 === 'compatibility' && p1 === 'subjects' && p2 !== undefined && p3 === 'versions' && (n === 4 || n === 5) && method === 'POST') {
      const c = parseSchemaBody(body);
      const subject = p2;
      const raw = p4 ?? 'all';
      const versions = subjects.get(subject) ?? [];
      let against: StoredSchema[];
      const level = levelOf(subject);
      if (raw === 'latest' || raw === '-1' || raw === 'all') {
        if (versions.length === 0) throw subjectNotFound(subject);
        const all = versions.map((v) => schemasById.get(v.id) as StoredSchema);
        against = level.endsWith('_TRANSITIVE') || raw === 'all' ? all : all.slice(-1);
      } else {
        against = [schemasById.get(versionOf(subject, raw).id) as StoredSchema];
      }
      const problems = incompatibilities(level, c, against);
      return query.get('verbose') === 'true'
        ? { is_compatible: problems.length === 0, messages: problems }
        : { is_compatible: problems.length === 0 };
    }
    const knownPath = ['schemas', 'subjects', 'config', 'compatibility'].includes(p0 ?? '');
    if (knownPath && n <= 5) throw new HttpError(405, 405, 'HTTP 405 Method Not Allowed');
    throw new HttpError(404, 404, 'HTTP 404 Not Found');
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let status = 200;
      let payload: unknown;
      try {
        const url = new URL(req.url ?? '/', 'http://registry');
        const parts = url.pathname.split('/').filter((p) => p !== '').map((p) => decodeURIComponent(p));
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        if (text.trim() !== '') {
          try {
            body = JSON.parse(text);
          } catch (e) {
            throw new HttpError(400, 400, `Unexpected character in request body: ${(e as Error).message}`);
          }
        }
        payload = route(req.method ?? 'GET', parts, url.searchParams, body);
      } catch (e) {
        if (e instanceof HttpError) {
          status = e.status;
          payload = { error_code: e.errorCode, message: e.message };
        } else {
          status = 500;
          payload = { error_code: 50001, message: `Error in the backend data store: ${(e as Error).message}` };
        }
      }
      const out = JSON.stringify(payload);
      res.writeHead(status, { 'content-type': CONTENT_TYPE, 'content-length': Buffer.byteLength(out) });
      res.end(out);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  const { port } = server.address() as AddressInfo;
  let stopped: Promise<void> | null = null;
  return {
    url: `http://127.0.0.1:${port}`,
    stop(): Promise<void> {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}
