// Resolves an export destination's `credentials_path` (a ScaiVault-style secret path such as
// `exports/acme-s3`) to that destination's settings. The interface is one method so a real vault
// can stand behind it; the default reads `<SECRETS_DIR>/<credentials_path>.json`.
// NOTE: credentials never appear in an error: messages name the path and the field, never a value
// (not even a JSON parser's message, which quotes the text around the fault).
import { open, realpath } from 'node:fs/promises';
import path from 'node:path';
import { AuditflowError } from '../errors.ts';

export interface SecretsProvider {
  /** The settings object stored at `credentialsPath`. CREDENTIALS_PATH_INVALID, CREDENTIALS_NOT_FOUND or CREDENTIALS_INVALID otherwise. */
  read(credentialsPath: string): Promise<Record<string, unknown>>;
}

// Segments of letters, digits, `.`, `_`, `-` joined by `/`, none empty and none starting with `.`
// (so never `.` or `..`, nor a hidden file).
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
const MAX_PATH_CHARS = 512;
// A settings file is a few hundred bytes (a service-account key ~2.3 KB); anything far larger is not one.
const MAX_FILE_BYTES = 64 * 1024;

/** Refuses paths that are absolute, climb (`..`), or use characters outside the segment alphabet. */
export function checkCredentialsPath(credentialsPath: unknown): string {
  if (typeof credentialsPath !== 'string' || credentialsPath === '') {
    throw new AuditflowError('CREDENTIALS_PATH_INVALID', 'credentials_path must be a non-empty string');
  }
  const shown = JSON.stringify(credentialsPath.slice(0, 80));
  if (credentialsPath.length > MAX_PATH_CHARS) {
    throw new AuditflowError('CREDENTIALS_PATH_INVALID', `credentials_path ${shown}… is longer than ${MAX_PATH_CHARS} characters`);
  }
  if (credentialsPath.startsWith('/') || credentialsPath.startsWith('\\')) {
    throw new AuditflowError('CREDENTIALS_PATH_INVALID', `credentials_path ${shown} must be relative (no leading /)`);
  }
  const bad = credentialsPath.split('/').find((s) => !SEGMENT.test(s));
  if (bad !== undefined) {
    throw new AuditflowError('CREDENTIALS_PATH_INVALID',
      `credentials_path ${shown} has an invalid segment ${JSON.stringify(bad)}: segments are letters, digits, '.', '_', '-', separated by '/', and never '..'`);
  }
  return credentialsPath;
}

export class FileSecretsProvider implements SecretsProvider {
  constructor(private readonly secretsDir: string) {}

  async read(credentialsPath: string): Promise<Record<string, unknown>> {
    const rel = checkCredentialsPath(credentialsPath);
    const notFound = (): AuditflowError =>
      new AuditflowError('CREDENTIALS_NOT_FOUND', `no credentials at credentials_path ${JSON.stringify(rel)}`);
    let root: string;
    let file: string;
    try {
      root = await realpath(this.secretsDir);
      file = await realpath(path.join(root, `${rel}.json`));
    } catch (e) {
      if (isNoEntry(e)) throw notFound();
      throw e;
    }
    // TRICKY: the lexical check above cannot see symlinks; the resolved file must still be inside SECRETS_DIR.
    if (!file.startsWith(root + path.sep)) {
      throw new AuditflowError('CREDENTIALS_PATH_INVALID', `credentials_path ${JSON.stringify(rel)} resolves outside the secrets directory`);
    }
    const text = await readSmallFile(file, rel, notFound);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new AuditflowError('CREDENTIALS_INVALID', `credentials at ${JSON.stringify(rel)} are not valid JSON`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new AuditflowError('CREDENTIALS_INVALID', `credentials at ${JSON.stringify(rel)} must be a JSON object`);
    }
    return parsed as Record<string, unknown>;
  }
}

async function readSmallFile(file: string, rel: string, notFound: () => AuditflowError): Promise<string> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    if (isNoEntry(e)) throw notFound();
    throw e;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw notFound();
    if (st.size > MAX_FILE_BYTES) {
      throw new AuditflowError('CREDENTIALS_INVALID', `credentials at ${JSON.stringify(rel)} are larger than ${MAX_FILE_BYTES} bytes`);
    }
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}

function isNoEntry(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}

/**
 * Reads a destination's settings field by field; a missing or mistyped field is CREDENTIALS_INVALID
 * naming the path and the field (and what was expected), never the value found.
 */
export class CredentialFields {
  constructor(private readonly settings: Record<string, unknown>, private readonly credentialsPath: string, private readonly what: string) {}

  /** CREDENTIALS_INVALID for `field`, saying what was expected. */
  invalid(field: string, expected: string): AuditflowError {
    return new AuditflowError('CREDENTIALS_INVALID',
      `credentials at ${JSON.stringify(this.credentialsPath)} for ${this.what}: field "${field}" ${expected}`,
      { details: [{ path: field, message: expected }] });
  }

  has(field: string): boolean {
    return this.settings[field] !== undefined && this.settings[field] !== null;
  }

  string(field: string): string {
    const v = this.settings[field];
    if (v === undefined || v === null) throw this.invalid(field, 'is required (a non-empty string)');
    if (typeof v !== 'string' || v === '') throw this.invalid(field, 'must be a non-empty string');
    return v;
  }

  optionalString(field: string): string | undefined {
    return this.has(field) ? this.string(field) : undefined;
  }

  optionalBoolean(field: string): boolean | undefined {
    const v = this.settings[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') throw this.invalid(field, 'must be true or false');
    return v;
  }

  optionalUrl(field: string): string | undefined {
    const v = this.optionalString(field);
    if (v === undefined) return undefined;
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      throw this.invalid(field, 'must be an http(s) URL');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw this.invalid(field, 'must be an http(s) URL');
    return v;
  }

  /** A field that is present but must satisfy `check`; `expected` says what it should be. */
  checked(field: string, check: (v: string) => boolean, expected: string): string {
    const v = this.string(field);
    if (!check(v)) throw this.invalid(field, expected);
    return v;
  }
}
