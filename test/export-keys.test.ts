import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { exportKeyPath, loadExportSigningKey, readExportSigningKey } from '../infra/export-keys.ts';
import { exportKeyId } from '../processors/export/manifest.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
let dataDir: string;
beforeEach(async () => { dataDir = await mkdtemp(path.join(tmpdir(), 'export-keys-')); });
afterEach(async () => { await rm(dataDir, { recursive: true, force: true }); });

describe('export signing key under DATA_DIR', () => {
  it('is generated on first use (0600, PKCS#8 PEM), then read back unchanged', async () => {
    const settings = { dataDir, exportSigningKeyFile: undefined };
    expect(await readExportSigningKey(settings)).toBeNull();
    const a = await loadExportSigningKey(settings);
    expect(a.file).toBe(path.join(dataDir, 'keys', 'export-signing-ed25519.pem'));
    expect((await stat(a.file)).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(a.file))).mode & 0o777).toBe(0o700);
    expect(await readFile(a.file, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(a.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(a.keyId).toBe(exportKeyId(a.publicKey));
    const b = await loadExportSigningKey(settings);
    expect(b.keyId).toBe(a.keyId);
    expect((await readExportSigningKey(settings))?.keyId).toBe(a.keyId);
  });

  it('loads started together in one process converge on one key, leaving no temp files', async () => {
    const settings = { dataDir, exportSigningKeyFile: undefined };
    const keys = await Promise.all(Array.from({ length: 8 }, () => loadExportSigningKey(settings)));
    expect(new Set(keys.map((k) => k.keyId)).size).toBe(1);
    expect(await readdir(path.join(dataDir, 'keys'))).toEqual(['export-signing-ed25519.pem']);
  });

  it('processes started together converge on one key', async () => {
    const script = `import { loadExportSigningKey } from ${JSON.stringify(path.join(root, 'infra/export-keys.ts'))};
const k = await loadExportSigningKey({ dataDir: process.argv[1], exportSigningKeyFile: undefined });
console.log(k.keyId);`;
    const run = () => promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, dataDir], { cwd: root });
    const outs = await Promise.all([run(), run(), run(), run()]);
    const ids = outs.map((o) => o.stdout.trim());
    expect(ids[0]).toMatch(/^[0-9a-f]{16}$/);
    expect(new Set(ids).size).toBe(1);
    expect((await readExportSigningKey({ dataDir, exportSigningKeyFile: undefined }))?.keyId).toBe(ids[0]);
  });
});

describe('EXPORT_SIGNING_KEY_FILE', () => {
  it('is used instead of DATA_DIR, and never generated', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const file = path.join(dataDir, 'shared.pem');
    await writeFile(file, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const settings = { dataDir, exportSigningKeyFile: file };
    expect(exportKeyPath(settings)).toBe(file);
    expect((await loadExportSigningKey(settings)).keyId).toBe(exportKeyId(publicKey));
    const missing = { dataDir, exportSigningKeyFile: path.join(dataDir, 'absent.pem') };
    await expect(loadExportSigningKey(missing)).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/EXPORT_SIGNING_KEY_FILE: .*absent\.pem does not exist/) });
    expect(await readdir(dataDir)).toEqual(['shared.pem']);
  });

  it('refuses a file that is not an Ed25519 private key', async () => {
    const file = path.join(dataDir, 'k.pem');
    await writeFile(file, generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await expect(loadExportSigningKey({ dataDir, exportSigningKeyFile: file })).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/expected an Ed25519 key, got rsa/) });
    await writeFile(file, 'garbage');
    await expect(loadExportSigningKey({ dataDir, exportSigningKeyFile: file })).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/not a PEM private key/) });
  });
});
