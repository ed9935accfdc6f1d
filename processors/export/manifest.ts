// ExportManifest: what an export wrote (every part's key, size, SHA-256 and record count), for which
// query, and the previous manifest of the same schedule, signed with Ed25519 so an auditor can check
// an export offline (processors/export/verify-export.ts). Pure: no I/O.
//
// The rules, in one place:
// - Canonical form (`canonicalJson`): RFC 8785 (JCS) — object keys sorted by UTF-16 code units, no
//   whitespace, strings and numbers exactly as ECMAScript JSON.stringify writes them; non-finite
//   numbers, lone surrogates and non-JSON values are refused rather than written ambiguously.
// - Signed bytes: the UTF-8 canonical form of the manifest without its `signature` member.
// - manifest.json on disk: the canonical form of the whole signed manifest, no trailing newline. So
//   the manifest's hash (the next manifest's `previous_manifest_sha256`) is the SHA-256 of the file's
//   bytes as stored — what `sha256sum manifest.json` prints — and equally of its canonical form.
// - Hashes are lowercase hex; the signature value is standard base64 of the 64-byte Ed25519 signature;
//   key_id is the first 16 hex digits of the SHA-256 of the public key's SPKI DER.
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import type { ExportFormat } from './export-formats.ts';

export const MANIFEST_VERSION = 1;
export const MANIFEST_FILE = 'manifest.json';
export const SIGNATURE_ALG = 'Ed25519';

export type ExportCompression = 'gzip' | null;

export interface ManifestPart {
  /** The object key at the destination, `<prefix>/<export_id>/part-0001.jsonl[.gz]`. */
  readonly key: string;
  /** Size and hash of the bytes as stored (compressed when compression is gzip). */
  readonly size_bytes: number;
  readonly sha256: string;
  /** Records in the part: JSONL lines, or CSV records after the header row. */
  readonly records: number;
}

export interface ManifestQuery {
  readonly from: string;
  readonly to: string;
  /** The `/v1/audit/logs` filters as the export was created with them. */
  readonly filters: Readonly<Record<string, unknown>>;
  readonly format: ExportFormat;
  readonly compression: ExportCompression;
}

export interface ManifestSignature {
  readonly alg: typeof SIGNATURE_ALG;
  readonly key_id: string;
  readonly value: string;
}

export interface UnsignedManifest {
  readonly version: typeof MANIFEST_VERSION;
  readonly export_id: string;
  readonly schedule_id: string | null;
  readonly tenant_id: string;
  readonly created_at: string;
  readonly query: ManifestQuery;
  readonly record_count: number;
  readonly parts: readonly ManifestPart[];
  /** SHA-256 of the previous manifest.json of the same schedule; null for the first run and for one-off exports. */
  readonly previous_manifest_sha256: string | null;
}

export interface ExportManifest extends UnsignedManifest {
  readonly signature: ManifestSignature;
}

/** RFC 8785 canonical JSON text of a JSON value. */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonical JSON: ${value} is not a JSON number`);
      return JSON.stringify(value);
    case 'string':
      // In a u-mode pattern a paired surrogate is one code point: \p{Cs} matches only lone ones.
      if (/\p{Cs}/u.test(value)) throw new TypeError('canonical JSON: a string holds a lone surrogate');
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) throw new TypeError('canonical JSON: only plain objects, arrays and primitives');
      const obj = value as Record<string, unknown>;
      // Default sort compares UTF-16 code units: the order RFC 8785 §3.2.3 asks for.
      const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
      return `{${keys.map((k) => `${canonicalJson(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
    }
    default:
      throw new TypeError(`canonical JSON: a ${typeof value} is not a JSON value`);
  }
}

/** The bytes the signature covers: the canonical form without `signature`. */
export function signedBytes(m: UnsignedManifest | ExportManifest): Buffer {
  const { signature: _signature, ...unsigned } = m as ExportManifest;
  return Buffer.from(canonicalJson(unsigned), 'utf8');
}

/** manifest.json as written: the canonical form of the whole signed manifest. */
export function serializeManifest(m: ExportManifest): Buffer {
  return Buffer.from(canonicalJson(m), 'utf8');
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A manifest's hash for the next one's `previous_manifest_sha256`: over manifest.json's bytes as stored. */
export function manifestSha256(bytes: Uint8Array): string {
  return sha256Hex(bytes);
}

/** Short fingerprint of an Ed25519 public key (a private key gives its public half's). */
export function exportKeyId(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return sha256Hex(pub.export({ type: 'spki', format: 'der' })).slice(0, 16);
}

function assertEd25519(key: KeyObject): void {
  if (key.asymmetricKeyType !== 'ed25519') throw new TypeError(`expected an Ed25519 key, got ${key.asymmetricKeyType ?? key.type}`);
}

export function signManifest(unsigned: UnsignedManifest, privateKey: KeyObject): ExportManifest {
  assertEd25519(privateKey);
  // Ed25519 hashes internally: the algorithm argument is null.
  const value = sign(null, signedBytes(unsigned), privateKey).toString('base64');
  return { ...unsigned, signature: { alg: SIGNATURE_ALG, key_id: exportKeyId(privateKey), value } };
}

export interface SignatureCheck {
  /** The Ed25519 signature over the canonical form verifies against the key. */
  readonly signatureValid: boolean;
  /** The manifest's key_id names this key. */
  readonly keyIdMatches: boolean;
  readonly keyId: string;
}

export function verifyManifestSignature(m: ExportManifest, publicKey: KeyObject): SignatureCheck {
  assertEd25519(publicKey);
  const keyId = exportKeyId(publicKey);
  const sig = Buffer.from(m.signature.value, 'base64');
  // A malformed value (wrong length, not base64) is an invalid signature, not a crash.
  const signatureValid = m.signature.alg === SIGNATURE_ALG && sig.length === 64 && sig.toString('base64') === m.signature.value
    && verify(null, signedBytes(m), publicKey, sig);
  return { signatureValid, keyIdMatches: m.signature.key_id === keyId, keyId };
}

const HEX64 = /^[0-9a-f]{64}$/;

type Check = (v: unknown) => boolean;
const isStr: Check = (v) => typeof v === 'string' && v.length > 0;
const isCount: Check = (v) => Number.isSafeInteger(v) && (v as number) >= 0;
const isHex64: Check = (v) => typeof v === 'string' && HEX64.test(v);
const orNull = (c: Check): Check => (v) => v === null || c(v);
const isTime: Check = (v) => typeof v === 'string' && !Number.isNaN(Date.parse(v));
const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkMembers(obj: Record<string, unknown>, at: string, shape: Record<string, [Check, string]>, errors: string[]): void {
  for (const [k, [check, what]] of Object.entries(shape)) {
    if (!(k in obj)) errors.push(`${at}${k}: missing`);
    else if (!check(obj[k])) errors.push(`${at}${k}: expected ${what}, got ${JSON.stringify(obj[k])}`);
  }
  for (const k of Object.keys(obj)) if (!(k in shape)) errors.push(`${at}${k}: not a member of a version ${MANIFEST_VERSION} manifest`);
}

export type ParsedManifest = { ok: true; manifest: ExportManifest } | { ok: false; errors: string[] };

/** Reads manifest.json's bytes into a manifest, naming every member that is missing or of the wrong shape. */
export function parseManifest(bytes: Uint8Array): ParsedManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (e) {
    return { ok: false, errors: [`not JSON: ${(e as Error).message}`] };
  }
  if (!isPlainObject(raw)) return { ok: false, errors: ['not a JSON object'] };
  if (raw['version'] !== MANIFEST_VERSION) return { ok: false, errors: [`version: expected ${MANIFEST_VERSION}, got ${JSON.stringify(raw['version'])}`] };
  const errors: string[] = [];
  checkMembers(raw, '', {
    version: [() => true, 'the version'],
    export_id: [isStr, 'a string'],
    schedule_id: [orNull(isStr), 'a string or null'],
    tenant_id: [isStr, 'a string'],
    created_at: [isTime, 'an ISO 8601 time'],
    query: [isPlainObject, 'an object'],
    record_count: [isCount, 'a non-negative integer'],
    parts: [Array.isArray, 'an array'],
    previous_manifest_sha256: [orNull(isHex64), 'a lowercase hex SHA-256 or null'],
    signature: [isPlainObject, 'an object'],
  }, errors);
  const query = raw['query'];
  if (isPlainObject(query)) {
    checkMembers(query, 'query.', {
      from: [isTime, 'an ISO 8601 time'],
      to: [isTime, 'an ISO 8601 time'],
      filters: [isPlainObject, 'an object'],
      format: [(v) => v === 'jsonl' || v === 'csv', '"jsonl" or "csv"'],
      compression: [(v) => v === null || v === 'gzip', '"gzip" or null'],
    }, errors);
  }
  const sig = raw['signature'];
  if (isPlainObject(sig)) checkMembers(sig, 'signature.', { alg: [isStr, 'a string'], key_id: [isStr, 'a string'], value: [isStr, 'a string'] }, errors);
  const parts = raw['parts'];
  if (Array.isArray(parts)) {
    const seen = new Set<string>();
    parts.forEach((p, i) => {
      if (!isPlainObject(p)) return errors.push(`parts[${i}]: expected an object`);
      checkMembers(p, `parts[${i}].`, {
        key: [isStr, 'a string'],
        size_bytes: [isCount, 'a non-negative integer'],
        sha256: [isHex64, 'a lowercase hex SHA-256'],
        records: [isCount, 'a non-negative integer'],
      }, errors);
      const key = p['key'];
      if (typeof key === 'string') {
        if (seen.has(key)) errors.push(`parts[${i}].key: ${JSON.stringify(key)} is listed twice`);
        seen.add(key);
      }
    });
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, manifest: raw as unknown as ExportManifest };
}
