// Strict query-string parsing shared by the read APIs: every problem is reported with the
// parameter's name, and unknown parameters are refused (a typo must not widen a query).
import { AuditflowError, type ErrorDetail } from '../../infra/errors.ts';
import { toUtcIso } from '../../schemas/normalize.ts';

export class QueryReader {
  private readonly errors: ErrorDetail[] = [];
  private readonly seen = new Set<string>();

  constructor(private readonly q: Record<string, unknown>) {}

  private raw(name: string): string | undefined {
    this.seen.add(name);
    const v = this.q[name];
    if (v === undefined) return undefined;
    if (Array.isArray(v)) {
      this.fail(name, 'given more than once');
      return undefined;
    }
    return String(v);
  }

  fail(name: string, message: string): void {
    this.errors.push({ path: name, message });
  }

  string(name: string, maxLength = 1024): string | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (v.length === 0 || v.length > maxLength) return void this.fail(name, `must be 1 to ${maxLength} characters`);
    return v;
  }

  list(name: string, sep = ','): string[] | undefined {
    const v = this.string(name, 8192);
    if (v === undefined) return undefined;
    const items = v.split(sep).map((s) => s.trim()).filter(Boolean);
    if (items.length === 0) return void this.fail(name, 'must name at least one value');
    return items;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[]): T | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(v)) return void this.fail(name, `must be one of ${allowed.join(', ')}`);
    return v as T;
  }

  bool(name: string): boolean | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    return void this.fail(name, 'must be true or false');
  }

  int(name: string, min: number, max: number): number | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (!/^-?\d+$/.test(v)) return void this.fail(name, 'must be an integer');
    const n = Number(v);
    if (n < min || n > max) return void this.fail(name, `must be between ${min} and ${max}`);
    return n;
  }

  time(name: string): string | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    const iso = /^\d{4}-\d{2}-\d{2}/.test(v) ? toUtcIso(v) : null;
    if (iso === null) return void this.fail(name, 'must be an ISO 8601 date-time');
    return iso;
  }

  /** Throws QUERY_INVALID with every problem found, including unknown parameters. */
  done(): void {
    for (const k of Object.keys(this.q)) if (!this.seen.has(k)) this.fail(k, 'unknown parameter');
    if (this.errors.length > 0) throw new AuditflowError('QUERY_INVALID', 'invalid query parameters', { details: this.errors });
  }
}
