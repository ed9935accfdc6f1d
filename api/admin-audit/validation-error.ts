// The admin family's documented 422 body, FastAPI's HTTPValidationError:
//   {"detail": [{"type": "int_parsing", "loc": ["query", "per_page"], "msg": "Input should be …", "input": "x"}]}
// built from QueryReader's QUERY_INVALID (each problem carries its pydantic v2 type) with pydantic's
// own messages and `ctx`, so a client written against the FastAPI service reads ours unchanged.
// Only QUERY_INVALID becomes a 422; every other error (401, 403, 404, 5xx) goes on to the app's
// handler and keeps the catalogue's `{error, code}` body.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AuditflowError, isAuditflowError, type ErrorDetail } from '../../infra/errors.ts';
import { toUtcIso } from '../../schemas/normalize.ts';

/** A parameter's limits, named as pydantic's `ctx` names them. */
export interface Bounds {
  ge?: number;
  le?: number;
  min_length?: number;
  max_length?: number;
}

export interface ValidationError {
  type: string;
  loc: (string | number)[];
  msg: string;
  input?: unknown;
  ctx?: Record<string, unknown>;
}

const MESSAGES: Record<string, string> = {
  int_parsing: 'Input should be a valid integer, unable to parse string as an integer',
  int_type: 'Input should be a valid integer',
  string_type: 'Input should be a valid string',
  datetime_type: 'Input should be a valid datetime',
  bool_type: 'Input should be a valid boolean',
  bool_parsing: 'Input should be a valid boolean, unable to interpret input',
  extra_forbidden: 'Extra inputs are not permitted',
  timezone_aware: 'Input should have timezone info',
};

/** The instants the store holds (DateTime64(3) as schemas/instant.ts accepts them). */
const EARLIEST = '1900-01-01T00:00:00Z';
const LATEST = '2299-12-31T23:59:59.999Z';

const daysIn = (y: number, m: number) => (m === 2 ? (y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28) : [4, 6, 9, 11].includes(m) ? 30 : 31);

/** What speedate's date parser says of the first ten characters (pydantic reports the date path's error), or null when they are a date. */
function dateError(s: string): string | null {
  const num = (i: number, n: number) => (/^\d+$/.test(s.slice(i, i + n)) ? Number(s.slice(i, i + n)) : -1);
  if (s.length < 10) return 'input is too short';
  const year = num(0, 4);
  if (year < 0) return 'invalid character in year';
  if (s[4] !== '-') return 'invalid date separator, expected `-`';
  const month = num(5, 2);
  if (month < 0) return 'invalid character in month';
  if (s[7] !== '-') return 'invalid date separator, expected `-`';
  const day = num(8, 2);
  if (day < 0) return 'invalid character in day';
  if (month < 1 || month > 12) return 'month value is outside expected range of 1-12';
  if (day < 1 || day > daysIn(year, month)) return 'day value is outside expected range';
  return null;
}

/** Why a start_time / end_time was refused, as pydantic's AwareDatetime would say it. */
function datetimeProblem(s: string): Pick<ValidationError, 'type' | 'msg' | 'ctx'> {
  const parsing = (error: string) => ({ type: 'datetime_from_date_parsing', msg: `Input should be a valid datetime or date, ${error}`, ctx: { error } });
  const date = dateError(s);
  if (date !== null) return parsing(date);
  // The same text with a year the store holds: tells "no zone" and "out of range" from "malformed".
  const inRange = `2000${s.slice(4)}`;
  if (toUtcIso(s.length === 10 ? `${inRange}T00:00:00Z` : `${inRange}Z`) !== null) return { type: 'timezone_aware', msg: MESSAGES['timezone_aware']! };
  if (toUtcIso(inRange) !== null) {
    return Number(s.slice(0, 4)) < 1900
      ? { type: 'greater_than_equal', msg: `Input should be greater than or equal to ${EARLIEST}`, ctx: { ge: EARLIEST } }
      : { type: 'less_than_equal', msg: `Input should be less than or equal to ${LATEST}`, ctx: { le: LATEST } };
  }
  return parsing('unexpected extra characters at the end of the input');
}

/** One QueryReader problem as a pydantic ValidationError. */
export function validationError(d: ErrorDetail, input: unknown, bounds: Bounds): ValidationError {
  const base = { loc: ['query', d.path], input };
  const type = d.type ?? 'value_error';
  switch (type) {
    case 'greater_than_equal':
      if (bounds.ge !== undefined) return { type, ...base, msg: `Input should be greater than or equal to ${bounds.ge}`, ctx: { ge: bounds.ge } };
      break;
    case 'less_than_equal':
      if (bounds.le !== undefined) return { type, ...base, msg: `Input should be less than or equal to ${bounds.le}`, ctx: { le: bounds.le } };
      break;
    case 'string_too_short': {
      const n = bounds.min_length ?? 1;
      return { type, ...base, msg: `String should have at least ${n} character${n === 1 ? '' : 's'}`, ctx: { min_length: n } };
    }
    case 'string_too_long':
      if (bounds.max_length !== undefined) return { type, ...base, msg: `String should have at most ${bounds.max_length} characters`, ctx: { max_length: bounds.max_length } };
      break;
    case 'datetime_from_date_parsing':
      if (typeof input === 'string') return { ...datetimeProblem(input), ...base };
      break;
    default:
      if (MESSAGES[type] !== undefined) return { type, ...base, msg: MESSAGES[type] };
  }
  // A kind without a pydantic message here: pydantic's generic wording around ours.
  return { type, ...base, msg: `Value error, ${d.message}` };
}

/**
 * The admin plugin's error handler: QUERY_INVALID → 422 HTTPValidationError; anything else is
 * rethrown, which hands it to the parent (app) handler (Fastify's error-handler chain).
 */
export function validationErrorHandler(boundsOf: (param: string) => Bounds) {
  return (err: FastifyError | AuditflowError, req: FastifyRequest, reply: FastifyReply) => {
    if (!isAuditflowError(err) || err.code !== 'QUERY_INVALID' || err.details === undefined) throw err;
    const query = (req.query ?? {}) as Record<string, unknown>;
    return reply.code(422).send({ detail: err.details.map((d) => validationError(d, query[d.path], boundsOf(d.path))) });
  };
}

/** The OpenAPI schema of the 422 body. */
export const HTTP_VALIDATION_ERROR_SCHEMA = {
  type: 'object',
  properties: {
    detail: {
      type: 'array',
      items: {
        type: 'object',
        required: ['loc', 'msg', 'type'],
        properties: {
          loc: { type: 'array', items: { anyOf: [{ type: 'string' }, { type: 'integer' }] } },
          msg: { type: 'string' },
          type: { type: 'string' },
          input: {},
          ctx: { type: 'object' },
        },
      },
    },
  },
} as const;
