// Strict query-string parsing shared by the read APIs: every problem is reported with the
// parameter's name, and unknown parameters are refused (a typo must not widen a query). Each
// problem also carries its kind in pydantic v2's vocabulary (`type`), from which the admin family
// builds its documented 422 bodies (../admin-audit/validation-error.ts).
import { AuditflowError, type ErrorDetail } from '../../infra/errors.ts';
import { toUtcIso } from '../../schemas/normalize.ts';

export class QueryReader {
  private readonly errors: ErrorDetail[] = [];
  private readonly seen = new Set<string>();

  constructor(private readonly q: Record<string, unknown>) {}

  /** `repeated`: the problem's type when the parameter is given more than once (a list, not a scalar). */
  private raw(name: string, repeated: string): string | undefined {
    this.seen.add(name);
    const v = this.q[name];
    if (v === undefined) return undefined;
    if (Array.isArray(v)) {
      this.fail(name, 'given more than once', repeated);
      return undefined;
    }
    return String(v);
  }

  fail(name: string, message: string, type = 'value_error'): void {
    this.errors.push({ path: name, message, type });
  }

  string(name: string, maxLength = 1024): string | undefined {
    const v = this.raw(name, 'string_type');
    if (v === undefined) return undefined;
    if (v.length === 0 || v.length > maxLength) return void this.fail(name, `must be 1 to ${maxLength} characters`, v.length === 0 ? 'string_too_short' : 'string_too_long');
    return v;
  }

  list(name: string, sep = ','): string[] | undefined {
    const v = this.string(name, 8192);
    if (v === undefined) return undefined;
    const items = v.split(sep).map((s) => s.trim()).filter(Boolean);
    if (items.length === 0) return void this.fail(name, 'must name at least one value', 'too_short');
    return items;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[]): T | undefined {
    const v = this.raw(name, 'enum');
    if (v === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(v)) return void this.fail(name, `must be one of ${allowed.join(', ')}`, 'enum');
    return v as T;
  }

  bool(name: string): boolean | undefined {
    const v = this.raw(name, 'bool_type');
    if (v === undefined) return undefined;
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    return void this.fail(name, 'must be true or false', 'bool_parsing');
  }

  int(name: string, min: number, max: number): number | undefined {
    const v = this.raw(name, 'int_type');
    if (v === undefined) return undefined;
    if (!/^-?\d+$/.test(v)) return void this.fail(name, 'must be an integer', 'int_parsing');
    const n = Number(v);
    if (n < min || n > max) return void this.fail(name, `must be between ${min} and ${max}`, n < min ? 'greater_than_equal' : 'less_than_equal');
    return n;
  }

  time(name: string): string | undefined {
    const v = this.raw(name, 'datetime_type');
    if (v === undefined) return undefined;
    const iso = /^\d{4}-\d{2}-\d{2}/.test(v) ? toUtcIso(v) : null;
    if (iso === null) return void this.fail(name, 'must be an ISO 8601 date-time', 'datetime_from_date_parsing');
    return iso;
  }

  /** Throws QUERY_INVALID with every problem found, including unknown parameters. */
  done(): void {
    for (const k of Object.keys(this.q)) if (!this.seen.has(k)) this.fail(k, 'unknown parameter', 'extra_forbidden');
    if (this.errors.length > 0) throw new AuditflowError('QUERY_INVALID', 'invalid query parameters', { details: this.errors });
  }
}
