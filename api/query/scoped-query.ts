// The one query path of every read API: filters compiled to `{sql, params}` with ClickHouse
// `{name:Type}` binding (langfuse's clickhouse-filter.ts is the model). A ScopedQuery is built
// from a table and a TenantScope, so the tenant clause is always the first one; filters are
// data (column, operator, type, value) whose columns are checked against the table, and values
// are only ever bound parameters. An undefined value skips its filter, so a family maps its
// optional query parameters straight onto filters.
import { AuditflowError } from '../../infra/errors.ts';
import type { QueryParams } from '../../infra/store/store.ts';
import type { TenantScope } from './tenant-scope.ts';

export type Table = 'audit_events' | 'change_log';

/** The columns a read may filter or select on, per table (a typo is a programming error, not SQL). */
const COLUMNS: Record<Table, ReadonlySet<string>> = {
  audit_events: new Set([
    'tenant_id', 'seq', 'id', 'partner_id', 'event_time', 'received_at', 'event_type', 'action', 'category', 'severity',
    'outcome', 'success', 'actor_id', 'actor_type', 'actor_email', 'service_account', 'resource_type', 'resource_id',
    'resource_name', 'resource_path', 'share_id', 'source_ip', 'user_agent', 'request_id', 'duration_ms', 'action_source',
    'details', 'source_format', 'log_partition', 'log_offset',
  ]),
  change_log: new Set([
    'tenant_id', 'seq', 'id', 'resource_type', 'resource_id', 'change_type', 'changed_by', 'changed_at', 'received_at',
    'metadata', 'old_path', 'new_path', 'version_id', 'share_id', 'log_partition', 'log_offset',
    'action_source', 'service_account',
  ]),
};

export const TIME = "DateTime64(3, 'UTC')";
export type ScalarType = 'String' | 'UInt64' | 'UInt32' | 'Bool' | typeof TIME;
export type Comparison = '=' | '!=' | '<' | '<=' | '>' | '>=';

export type Filter =
  | { readonly column: string; readonly op: Comparison; readonly type: ScalarType; readonly value: string | number | boolean }
  | { readonly column: string; readonly op: 'in' | 'notIn'; readonly value: readonly string[] }
  | { readonly column: string; readonly op: 'startsWith'; readonly value: string }
  /** Nullable String columns: a value or, for null, IS NULL. */
  | { readonly column: string; readonly op: 'eqOrNull'; readonly value: string | null }
  /** A JSON text column has (or lacks) the top-level key `value` (JSONHas). */
  | { readonly column: string; readonly op: 'jsonHas' | 'jsonLacks'; readonly value: string }
  /** A top-level key of a JSON text column as a string (JSONExtractString: '' when absent or not a string), compared. */
  | { readonly column: string; readonly op: 'jsonEq' | 'jsonNe'; readonly key: string; readonly value: string }
  /** Any of the filters (OR); none is false. */
  | { readonly op: 'anyOf'; readonly value: readonly Filter[] };

export interface CompiledSql {
  sql: string;
  params: QueryParams;
}

/** ISO 8601 instant → the DateTime64(3) text a bound parameter takes. */
export function chTime(iso: string): string {
  return iso.slice(0, 23).replace('T', ' ');
}

/** A stored DateTime64(3) as JSON output (`2026-04-23 10:15:02.000`) → ISO 8601 with `Z` (ISO stays as it is: rows from the sink). */
export function isoFromStore(t: string): string {
  return t.endsWith('Z') ? t : `${t.replace(' ', 'T')}Z`;
}

export class ScopedQuery {
  private readonly clauses: string[] = [];
  private readonly params: QueryParams = {};
  private n = 0;

  constructor(readonly table: Table, scope: TenantScope) {
    switch (scope.kind) {
      case 'tenant':
        this.clauses.push('tenant_id = {scope_tenant:String}');
        this.params['scope_tenant'] = scope.tenantId;
        if (scope.partnerId !== undefined) this.partnerClause(scope.partnerId);
        break;
      case 'partner':
        this.partnerClause(scope.partnerId);
        break;
      case 'platform':
        break;
    }
  }

  private partnerClause(partnerId: string): void {
    if (this.table !== 'audit_events') throw new AuditflowError('INTERNAL', `${this.table} has no partner column`);
    this.clauses.push('partner_id = {scope_partner:String}');
    this.params['scope_partner'] = partnerId;
  }

  private column(c: string): string {
    if (!COLUMNS[this.table].has(c)) throw new AuditflowError('INTERNAL', `${this.table} has no column ${c}`);
    return c;
  }

  private bind(type: string, value: unknown): string {
    const name = `f${this.n++}`;
    this.params[name] = value;
    return `{${name}:${type}}`;
  }

  /** Adds a filter; skipped when its value is undefined. */
  where(f: Filter | undefined): this {
    if (f === undefined || f.value === undefined) return this;
    this.clauses.push(this.compile(f));
    return this;
  }

  private compile(f: Filter): string {
    if (f.op === 'anyOf') return f.value.length === 0 ? '0' : `(${f.value.map((g) => this.compile(g)).join(' OR ')})`;
    const col = this.column(f.column);
    switch (f.op) {
      case 'in':
      case 'notIn':
        return `${col} ${f.op === 'in' ? 'IN' : 'NOT IN'} ${this.bind('Array(String)', f.value)}`;
      case 'startsWith':
        return `startsWith(${col}, ${this.bind('String', f.value)})`;
      case 'eqOrNull':
        return f.value === null ? `${col} IS NULL` : `${col} = ${this.bind('String', f.value)}`;
      case 'jsonHas':
      case 'jsonLacks':
        return `${f.op === 'jsonLacks' ? 'NOT ' : ''}JSONHas(${col}, ${this.bind('String', f.value)})`;
      case 'jsonEq':
      case 'jsonNe':
        return `JSONExtractString(${col}, ${this.bind('String', f.key)}) ${f.op === 'jsonEq' ? '=' : '!='} ${this.bind('String', f.value)}`;
      default:
        return `${col} ${f.op} ${this.bind(f.type, f.value)}`;
    }
  }

  eq(column: string, type: ScalarType, value: string | number | boolean | undefined): this {
    return value === undefined ? this : this.where({ column, op: '=', type, value });
  }

  ne(column: string, type: ScalarType, value: string | number | boolean | undefined): this {
    return value === undefined ? this : this.where({ column, op: '!=', type, value });
  }

  in(column: string, values: readonly string[] | undefined): this {
    return values === undefined ? this : this.where({ column, op: 'in', value: values });
  }

  notIn(column: string, values: readonly string[] | undefined): this {
    return values === undefined ? this : this.where({ column, op: 'notIn', value: values });
  }

  startsWith(column: string, prefix: string | undefined): this {
    return prefix === undefined ? this : this.where({ column, op: 'startsWith', value: prefix });
  }

  /** `from` inclusive, `to` exclusive; ISO 8601 instants. */
  timeRange(column: string, from: string | undefined, to: string | undefined): this {
    if (from !== undefined) this.where({ column, op: '>=', type: TIME, value: chTime(from) });
    if (to !== undefined) this.where({ column, op: '<', type: TIME, value: chTime(to) });
    return this;
  }

  /** Keyset paging on seq: strictly past `seq` in the listing's direction. */
  seqAfter(seq: number | undefined, direction: 'asc' | 'desc'): this {
    if (seq === undefined) return this;
    return this.where({ column: 'seq', op: direction === 'asc' ? '>' : '<', type: 'UInt64', value: seq });
  }

  /** The WHERE clause (never empty but for a platform scope without filters) and its parameters. */
  whereSql(): string {
    return this.clauses.length === 0 ? '' : `WHERE ${this.clauses.join(' AND ')}`;
  }

  /**
   * `SELECT <columns> FROM <table> WHERE … <tail>`. `columns` and `tail` are code, never input;
   * values the tail needs (a limit) are bound through `extra`.
   */
  select(columns: string, tail = '', extra: QueryParams = {}): CompiledSql {
    for (const k of Object.keys(extra)) if (k in this.params) throw new AuditflowError('INTERNAL', `parameter ${k} bound twice`);
    return { sql: `SELECT ${columns} FROM ${this.table} ${this.whereSql()} ${tail}`.trim(), params: { ...this.params, ...extra } };
  }
}
