// SIEM destinations in the store (schemas/migrations/0006_siem.sql): each change is a new version
// row, the newest is the destination. The stored config is complete — secrets included — because
// the forwarder sends with it; what leaves the process is publicView(), which drops every secret.
import type { Store } from '../../infra/store/store.ts';
import { chTime, isoFromStore } from '../../api/query/scoped-query.ts';
import { SECRET_FIELDS, type DestinationConfig, type DestinationFilter } from './siem-types.ts';
import { insertRows, storedBool, VersionClock } from './siem-rows.ts';

export type DestinationStatus = 'active' | 'paused';

/** Where forwarding begins: the creation time ('now'), the oldest retained event, or an ISO instant. */
export type DestinationStart = 'now' | 'oldest' | string;

export type Destination = DestinationConfig & {
  destinationId: string;
  tenantId: string;
  version: number;
  name: string;
  filter: DestinationFilter;
  start: DestinationStart;
  /** Bumped by a seek: each generation is its own consumer group, positioned from `start`. */
  generation: number;
  status: DestinationStatus;
  createdAt: string;
  updatedAt: string;
  deleted: boolean;
};

/** What a caller may set (create: everything; update: the merged result). */
export type DestinationInput = DestinationConfig & { name: string; filter: DestinationFilter; start: DestinationStart };

interface DestinationRow {
  tenant_id: string; destination_id: string; version: number | string; name: string; type: string; config: string;
  filter: string; start: string; status: DestinationStatus; created_at: string; updated_at: string; deleted: unknown;
  generation: number | string;
}

const COLUMNS = 'tenant_id, destination_id, version, name, type, config, filter, start, status, created_at, updated_at, deleted, generation';

function fromRow(r: DestinationRow): Destination {
  return {
    tenantId: r.tenant_id, destinationId: r.destination_id, version: Number(r.version), name: r.name,
    ...({ type: r.type, config: JSON.parse(r.config) } as DestinationConfig),
    filter: JSON.parse(r.filter) as DestinationFilter, start: r.start, generation: Number(r.generation), status: r.status,
    createdAt: isoFromStore(r.created_at), updatedAt: isoFromStore(r.updated_at), deleted: storedBool(r.deleted),
  };
}

/** A secret's value in views: replaced by `<field>_set: true`. Header values: by this marker. */
export const REDACTED = '[redacted]';

/**
 * The config as responses, logs and audit events show it: every SECRET_FIELDS value replaced by
 * `<field>_set: true`, and webhook header values by REDACTED (receivers put credentials there
 * too: Authorization, X-Api-Key), the header names kept.
 */
export function publicConfig(d: DestinationConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { ...d.config };
  for (const f of SECRET_FIELDS[d.type]) {
    if (f in out) {
      delete out[f];
      out[`${f}_set`] = true;
    }
  }
  if (d.type === 'webhook' && d.config.headers) {
    out['headers'] = Object.fromEntries(Object.keys(d.config.headers).map((k) => [k, REDACTED]));
  }
  return out;
}

/** Every secret value of a destination (secret fields and header values), to scrub from text we pass on. */
export function secretValues(d: DestinationConfig): string[] {
  const c = d.config as unknown as Record<string, unknown>;
  const out = SECRET_FIELDS[d.type].map((f) => c[f]).filter((v): v is string => typeof v === 'string' && v !== '');
  if (d.type === 'webhook') out.push(...Object.values(d.config.headers ?? {}).filter((v) => v.length >= 4));
  return out;
}

/** `text` with every secret of `d` replaced by REDACTED (a receiver may echo a token in its answer). */
export function scrubSecrets(d: DestinationConfig, text: string): string {
  let out = text;
  for (const s of secretValues(d).sort((a, b) => b.length - a.length)) out = out.split(s).join(REDACTED);
  return out;
}

/** The destination as the API returns it. */
export function publicView(d: Destination): Record<string, unknown> {
  return {
    destination_id: d.destinationId, name: d.name, type: d.type, config: publicConfig(d), filter: d.filter,
    start: d.start, generation: d.generation, status: d.status, created_at: d.createdAt, updated_at: d.updatedAt,
  };
}

export class Destinations {
  private readonly clock: VersionClock;

  constructor(private readonly store: Store, now: () => number = Date.now) {
    this.clock = new VersionClock(now);
  }

  private async save(d: Omit<Destination, 'version' | 'updatedAt'> & { version?: number }): Promise<Destination> {
    const saved = { ...d, version: this.clock.next(d.version ?? 0), updatedAt: this.clock.iso() } as Destination;
    await insertRows(this.store, 'siem_destinations', [{
      tenant_id: saved.tenantId, destination_id: saved.destinationId, version: saved.version, name: saved.name, type: saved.type,
      config: JSON.stringify(saved.config), filter: JSON.stringify(saved.filter), start: saved.start, status: saved.status,
      created_at: chTime(saved.createdAt), updated_at: chTime(saved.updatedAt), deleted: saved.deleted, generation: saved.generation,
    }]);
    return saved;
  }

  create(tenantId: string, input: DestinationInput): Promise<Destination> {
    return this.save({ ...input, tenantId, destinationId: this.clock.id('dst'), generation: 0, status: 'active', createdAt: this.clock.iso(), deleted: false });
  }

  /** The tenant's destination (null when unknown, another tenant's, or deleted). */
  async get(tenantId: string, destinationId: string): Promise<Destination | null> {
    const rows = await this.store.query<DestinationRow>(
      `SELECT ${COLUMNS} FROM siem_destinations FINAL WHERE tenant_id = {tenant:String} AND destination_id = {id:String}`,
      { tenant: tenantId, id: destinationId },
    );
    const d = rows[0] ? fromRow(rows[0]) : null;
    return d && !d.deleted ? d : null;
  }

  /** The tenant's live destinations in creation order, after the id `after` (keyset paging). */
  async list(tenantId: string, opts: { limit: number; after?: string | undefined }): Promise<Destination[]> {
    const params: Record<string, unknown> = { tenant: tenantId, limit: opts.limit };
    let where = 'tenant_id = {tenant:String} AND NOT deleted';
    if (opts.after !== undefined) {
      where += ' AND destination_id > {after:String}';
      params['after'] = opts.after;
    }
    const rows = await this.store.query<DestinationRow>(`SELECT ${COLUMNS} FROM siem_destinations FINAL WHERE ${where} ORDER BY destination_id LIMIT {limit:UInt32}`, params);
    return rows.map(fromRow);
  }

  /** Writes the merged input as the next version (name, config and filter; type and start are fixed at creation). */
  update(d: Destination, input: Pick<DestinationInput, 'name' | 'config' | 'filter'>): Promise<Destination> {
    return this.save({ ...d, name: input.name, config: input.config, filter: input.filter } as Destination);
  }

  /**
   * Moves forwarding to `start` (an ISO instant or "oldest"): the next generation, whose consumer
   * group the forwarder positions from it; the previous group is deleted.
   */
  seek(d: Destination, start: DestinationStart): Promise<Destination> {
    return this.save({ ...d, start, generation: d.generation + 1 });
  }

  setStatus(d: Destination, status: DestinationStatus): Promise<Destination> {
    return this.save({ ...d, status });
  }

  pause(d: Destination): Promise<Destination> {
    return this.setStatus(d, 'paused');
  }

  resume(d: Destination): Promise<Destination> {
    return this.setStatus(d, 'active');
  }

  /** Soft delete: a version with deleted = true (the forwarder sees it and removes the destination's consumer group). */
  delete(d: Destination): Promise<Destination> {
    return this.save({ ...d, deleted: true });
  }

  /**
   * Every destination of every tenant, deleted ones included (flagged), newest version each: the
   * forwarder polls it to start, pause and remove consumer groups. Across tenants by design, like
   * the export workers' claimable(): the forwarder serves every tenant.
   */
  async allForForwarder(): Promise<Destination[]> {
    const rows = await this.store.query<DestinationRow>(`SELECT ${COLUMNS} FROM siem_destinations FINAL ORDER BY tenant_id, destination_id`);
    return rows.map(fromRow);
  }
}
