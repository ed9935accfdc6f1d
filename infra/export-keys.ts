// The Ed25519 key that signs export manifests (processors/export/manifest.ts). Either the PEM file
// EXPORT_SIGNING_KEY_FILE names (distributed: the same key on every node), or one generated on first
// use under DATA_DIR/keys. Processes starting together converge on one key: each writes its candidate
// to a private temp file and link()s it into place, which fails if a key is already there — so the
// first key written wins, is never replaced, and is never seen half-written.
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { exportKeyId } from '../processors/export/manifest.ts';
import { AuditflowError } from './errors.ts';
import { syncDir } from './fs-durable.ts';

export const EXPORT_KEY_FILE = 'export-signing-ed25519.pem';

export interface ExportKeySettings {
  readonly dataDir: string;
  /** Config's exportSigningKeyFile: a PEM private key to use instead of DATA_DIR's. */
  readonly exportSigningKeyFile: string | undefined;
}

export interface ExportSigningKey {
  readonly keyId: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** SPKI PEM, as GET /v1/audit/export-keys publishes it and `auditflow verify --public-key` reads it. */
  readonly publicKeyPem: string;
  /** The file the key was read from. */
  readonly file: string;
}

export function exportKeyPath(settings: ExportKeySettings): string {
  return settings.exportSigningKeyFile ?? path.join(settings.dataDir, 'keys', EXPORT_KEY_FILE);
}

function fromPem(pem: string, file: string): ExportSigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (e) {
    throw new AuditflowError('CONFIG_INVALID', `export signing key ${file}: not a PEM private key (${(e as Error).message})`, { cause: e });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new AuditflowError('CONFIG_INVALID', `export signing key ${file}: expected an Ed25519 key, got ${privateKey.asymmetricKeyType ?? 'unknown'}`);
  }
  const publicKey = createPublicKey(privateKey);
  return { keyId: exportKeyId(publicKey), privateKey, publicKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), file };
}

async function readKey(file: string): Promise<ExportSigningKey | null> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new AuditflowError('CONFIG_INVALID', `export signing key ${file}: cannot read (${(e as Error).message})`, { cause: e });
  }
  return fromPem(pem, file);
}

/** The key without creating one: null when DATA_DIR has none yet (a configured file must exist). */
export async function readExportSigningKey(settings: ExportKeySettings): Promise<ExportSigningKey | null> {
  const file = exportKeyPath(settings);
  const key = await readKey(file);
  if (key === null && settings.exportSigningKeyFile !== undefined) {
    throw new AuditflowError('CONFIG_INVALID', `configuration EXPORT_SIGNING_KEY_FILE: ${file} does not exist`);
  }
  return key;
}

/** The signing key, generated under DATA_DIR/keys (0600) on first use when none is configured. */
export async function loadExportSigningKey(settings: ExportKeySettings): Promise<ExportSigningKey> {
  const existing = await readExportSigningKey(settings);
  if (existing) return existing;
  const file = exportKeyPath(settings);
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const tmp = path.join(dir, `.${EXPORT_KEY_FILE}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(pem);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await link(tmp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    // Another process linked its key first: use that one.
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  await syncDir(dir);
  const key = await readKey(file);
  if (key === null) throw new AuditflowError('INTERNAL', `export signing key ${file} vanished after it was written`);
  return key;
}
