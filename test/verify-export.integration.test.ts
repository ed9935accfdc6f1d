// `auditflow verify` end to end: real exports written on disk (JSONL, CSV with quoted line breaks and
// commas, gzip), manifests signed by the key under a temp DATA_DIR, then tampered with, and the real
// CLI spawned over them.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { parse as parseCsv } from 'csv-parse/sync';
import { loadExportSigningKey } from '../infra/export-keys.ts';
import { manifestSha256, parseManifest, serializeManifest, signManifest, type ExportCompression, type ExportManifest } from '../processors/export/manifest.ts';
import type { ExportFormat } from '../processors/export/export-formats.ts';
import { verifyExport, type VerifyReport } from '../processors/export/verify-export.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
let work: string;
let dataDir: string;
let key: KeyObject;
let publicPem: string;

interface Cli { code: number | null; stdout: string; stderr: string }
function verify(args: string[], env: Record<string, string> = {}): Promise<Cli> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/auditflow.js', 'verify', ...args], { cwd: root, env: { PATH: process.env['PATH'] ?? '', DATA_DIR: dataDir, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}
/** The report itself, in-process (the CLI prints it; the spawned runs check what it prints and the exit status). */
const verifyJson = (target: string): Promise<VerifyReport> => verifyExport(target, { publicKeyPem: publicPem });
const codes = (r: VerifyReport) => r.problems.map((p) => `${p.code} ${path.basename(p.file)}`).sort();

const jsonl = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `${JSON.stringify({ id: `evt_${from + i}`, action: 'read', path: `secrets/app/${from + i}` })}\n`).join('');
const CSV_HEADER = 'id,action,path,metadata\r\n';
// Quoted fields with CRLF, LF, commas and escaped quotes: a line counter would be wrong on every one.
const csvRecords = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `evt_${from + i},write,"secrets/a,b/${from + i}","{""note"":""line one\r\nline two\nend""}"\r\n`).join('');

interface Built { dir: string; manifest: ExportManifest; bytes: Buffer }
interface ExportSpec {
  exportId: string;
  format?: ExportFormat;
  compression?: ExportCompression;
  /** Records per part. */
  parts?: number[];
  scheduleId?: string | null;
  previous?: string | null;
  createdAt?: string;
  signer?: KeyObject;
  /** Override the records the manifest lists for part i (a writer that miscounted). */
  listRecords?: (i: number, actual: number) => number;
}

/** Writes parts and a signed manifest under `<parent>/<export_id>/`, as an export's local destination holds them. */
async function buildExport(parent: string, spec: ExportSpec): Promise<Built> {
  const format = spec.format ?? 'jsonl';
  const compression = spec.compression ?? null;
  const dir = path.join(parent, spec.exportId);
  await mkdir(dir, { recursive: true });
  const parts = [];
  let from = 0;
  for (const [i, n] of (spec.parts ?? [3, 2]).entries()) {
    const text = format === 'jsonl' ? jsonl(n, from) : CSV_HEADER + csvRecords(n, from);
    from += n;
    const body = compression === 'gzip' ? gzipSync(text) : Buffer.from(text);
    const name = `part-${String(i + 1).padStart(4, '0')}.${format}${compression === 'gzip' ? '.gz' : ''}`;
    await writeFile(path.join(dir, name), body);
    parts.push({ key: `audit/${spec.exportId}/${name}`, size_bytes: body.length, sha256: createHash('sha256').update(body).digest('hex'), records: spec.listRecords ? spec.listRecords(i, n) : n });
  }
  const manifest = signManifest({
    version: 1,
    export_id: spec.exportId,
    schedule_id: spec.scheduleId ?? null,
    tenant_id: 'acme',
    created_at: spec.createdAt ?? '2026-04-23T20:00:00.000Z',
    query: { from: '2026-04-23T19:00:00.000Z', to: '2026-04-23T20:00:00.000Z', filters: { action: ['read', 'write'] }, format, compression },
    record_count: parts.reduce((s, p) => s + p.records, 0),
    parts,
    previous_manifest_sha256: spec.previous ?? null,
  }, spec.signer ?? key);
  const bytes = serializeManifest(manifest);
  await writeFile(path.join(dir, 'manifest.json'), bytes);
  return { dir, manifest, bytes };
}

/** Three hourly runs of one schedule, each linked to the one before. */
async function buildChain(parent: string): Promise<Built[]> {
  const runs: Built[] = [];
  for (let i = 0; i < 3; i++) {
    runs.push(await buildExport(parent, { exportId: `exp_run${i + 1}`, scheduleId: 'sch_hourly', createdAt: `2026-04-23T2${i}:00:05.000Z`, previous: i === 0 ? null : manifestSha256(runs[i - 1]!.bytes) }));
  }
  return runs;
}

let n = 0;
const fresh = async () => { const d = path.join(work, `case-${++n}`); await mkdir(d); return d; };

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'verify-export-'));
  dataDir = path.join(work, 'data');
  const k = await loadExportSigningKey({ dataDir, exportSigningKeyFile: undefined });
  key = k.privateKey;
  publicPem = k.publicKeyPem;
});
afterAll(async () => { await rm(work, { recursive: true, force: true }); });

describe('auditflow verify: good exports', () => {
  it('a JSONL export passes (exit 0), checked against the key under DATA_DIR', async () => {
    const e = await buildExport(await fresh(), { exportId: 'exp_good', parts: [3, 2] });
    const r = await verify([e.dir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const group of ['manifest', 'signature', 'parts', 'records', 'folder']) expect(r.stdout).toMatch(new RegExp(`^ok +${group} +exp_good`, 'm'));
    expect(r.stdout).toContain('5 records counted, record_count 5');
    expect(r.stdout).toMatch(/OK: every check passed\n$/);
  });

  it('CSV with quoted line breaks and commas, plain and gzip, counts records as a CSV parser does', async () => {
    const parent = await fresh();
    const plain = await buildExport(parent, { exportId: 'exp_csv', format: 'csv', parts: [4, 1] });
    const gz = await buildExport(parent, { exportId: 'exp_csvgz', format: 'csv', compression: 'gzip', parts: [2, 3, 1] });
    // The fixture's truth checked by a real CSV parser (header row excluded).
    const rows = parseCsv(await readFile(path.join(plain.dir, 'part-0001.csv')), { columns: true }) as unknown[];
    expect(rows).toHaveLength(4);
    for (const dir of [plain.dir, gz.dir]) {
      const r = await verify([dir]);
      expect(r.code, r.stdout).toBe(0);
    }
    expect((await verify([gz.dir])).stdout).toContain('6 records counted, record_count 6');
  });

  it('a manifest file as the target, and a schedule folder whose chain links', async () => {
    const parent = await fresh();
    const runs = await buildChain(parent);
    expect((await verify([path.join(runs[1]!.dir, 'manifest.json')])).code).toBe(0);
    const r = await verify([parent]);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^ok +chain +schedule sch_hourly \(tenant acme\): 3 manifests in created_at order, 2 links intact$/m);
    expect(r.stdout).toMatch(/^note +exp_run1\/manifest\.json: first of its chain/m);
    // Without its first run, the chain starts at a manifest not present: a note, not a problem.
    await rm(runs[0]!.dir, { recursive: true });
    const later = await verify([parent]);
    expect(later.code, later.stdout).toBe(0);
    expect(later.stdout).toMatch(/^note +exp_run2\/manifest\.json: links to manifest [0-9a-f]{64}, which is not in this folder/m);
  });
});

describe('auditflow verify: tampered exports exit 1 and name the problem', () => {
  it('a changed byte in a part', async () => {
    const e = await buildExport(await fresh(), { exportId: 'exp_byte' });
    const file = path.join(e.dir, 'part-0001.jsonl');
    const body = await readFile(file);
    body[10] = body[10]! ^ 0x01;
    await writeFile(file, body);
    const r = await verify([e.dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL +parts +exp_byte: 1 of 2 parts present with the listed size and SHA-256$/m);
    expect(r.stdout).toMatch(/^ +part_sha256_mismatch +exp_byte\/part-0001\.jsonl: SHA-256 [0-9a-f]{64}, the manifest says [0-9a-f]{64}$/m);
    expect(r.stdout).toMatch(/^ok +signature/m);
    expect(codes(await verifyJson(e.dir))).toEqual(['part_sha256_mismatch part-0001.jsonl']);
  });

  it('a changed byte in a gzip part: the hash, and the content no longer decompresses', async () => {
    const e = await buildExport(await fresh(), { exportId: 'exp_gzbyte', format: 'csv', compression: 'gzip' });
    const file = path.join(e.dir, 'part-0002.csv.gz');
    const body = await readFile(file);
    body[body.length - 6] = body[body.length - 6]! ^ 0xff; // inside the CRC-32 trailer
    await writeFile(file, body);
    const report = await verifyJson(e.dir);
    expect(codes(report)).toEqual(['part_sha256_mismatch part-0002.csv.gz', 'part_unreadable part-0002.csv.gz']);
    expect(report.problems.find((p) => p.code === 'part_unreadable')?.message).toMatch(/records cannot be counted/);
  });

  it('a part deleted', async () => {
    const e = await buildExport(await fresh(), { exportId: 'exp_gone', parts: [1, 1, 1] });
    await unlink(path.join(e.dir, 'part-0002.jsonl'));
    const r = await verify([e.dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^ +part_missing +exp_gone\/part-0002\.jsonl: listed in the manifest \(audit\/exp_gone\/part-0002\.jsonl\) but not in the folder$/m);
    expect(r.stdout).toMatch(/FAILED: 1 problem\n$/);
  });

  it('a changed record_count: the signature fails and the parts no longer sum to it', async () => {
    const e = await buildExport(await fresh(), { exportId: 'exp_count' });
    await writeFile(path.join(e.dir, 'manifest.json'), serializeManifest({ ...e.manifest, record_count: 4 }));
    const r = await verify([e.dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^ +signature_invalid +exp_count\/manifest\.json: the Ed25519 signature does not verify/m);
    expect(r.stdout).toMatch(/^ +record_count_mismatch +exp_count\/manifest\.json: record_count is 4, the parts list 5$/m);
    expect(codes(await verifyJson(e.dir))).toEqual(['record_count_mismatch manifest.json', 'signature_invalid manifest.json']);
  });

  it('a part whose content holds another number of records than the signed manifest lists', async () => {
    const e = await buildExport(await fresh(), { exportId: 'exp_miscount', format: 'csv', parts: [3, 2], listRecords: (i, actual) => (i === 0 ? actual + 1 : actual) });
    const r = await verify([e.dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^ +part_records_mismatch +exp_miscount\/part-0001\.csv: 3 records, the manifest says 4$/m);
    expect(codes(await verifyJson(e.dir))).toEqual(['part_records_mismatch part-0001.csv']);
  });

  it('a manifest re-signed with another key', async () => {
    const e = await buildExport(await fresh(), { exportId: 'exp_resigned' });
    const { signature: _s, ...unsigned } = e.manifest;
    await writeFile(path.join(e.dir, 'manifest.json'), serializeManifest(signManifest({ ...unsigned, record_count: 5 }, generateKeyPairSync('ed25519').privateKey)));
    const report = await verifyJson(e.dir);
    expect(codes(report)).toEqual(['key_id_mismatch manifest.json', 'signature_invalid manifest.json']);
    expect((await verify([e.dir])).code).toBe(1);
  });

  it('a broken chain: a middle manifest replaced by another validly signed one', async () => {
    const parent = await fresh();
    const runs = await buildChain(parent);
    // A re-run of the middle window, signed with the right key: every signature holds, the link does not.
    await rm(runs[1]!.dir, { recursive: true });
    await buildExport(parent, { exportId: 'exp_run2', scheduleId: 'sch_hourly', createdAt: '2026-04-23T21:00:05.000Z', previous: manifestSha256(runs[0]!.bytes), parts: [2, 2] });
    const r = await verify([parent]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL +chain +schedule sch_hourly/m);
    expect(r.stdout).toMatch(/^ +chain_broken +exp_run3\/manifest\.json: previous_manifest_sha256 should be [0-9a-f]{64} \(.*exp_run2\/manifest\.json, the run before\), it is [0-9a-f]{64}, a manifest not in this folder \(removed or replaced\)$/m);
    expect(codes(await verifyJson(parent))).toEqual(['chain_broken manifest.json']);
  });

  it('a broken chain: a middle export removed', async () => {
    const parent = await fresh();
    const runs = await buildChain(parent);
    await rm(runs[1]!.dir, { recursive: true });
    const report = await verifyJson(parent);
    expect(report.problems).toHaveLength(1);
    expect(report.problems[0]).toMatchObject({ code: 'chain_broken', file: path.join(runs[2]!.dir, 'manifest.json') });
  });

  it('a manifest deleted from a schedule folder', async () => {
    const parent = await fresh();
    const runs = await buildChain(parent);
    await unlink(path.join(runs[2]!.dir, 'manifest.json'));
    const report = await verifyJson(parent);
    expect(codes(report)).toEqual(['manifest_missing manifest.json']);
    expect(report.problems[0]?.file).toBe(path.join(runs[2]!.dir, 'manifest.json'));
  });

  it('an extra part file the manifest does not list', async () => {
    const e = await buildExport(await fresh(), { exportId: 'exp_extra' });
    await writeFile(path.join(e.dir, 'part-0003.jsonl'), jsonl(1, 99));
    await writeFile(path.join(e.dir, 'NOTES.txt'), 'auditor notes');
    const r = await verify([e.dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^ +unlisted_part +exp_extra\/part-0003\.jsonl: a part file the manifest does not list$/m);
    expect(r.stdout).toMatch(/^note +exp_extra\/NOTES\.txt: not part of the export/m);
    expect(codes(await verifyJson(e.dir))).toEqual(['unlisted_part part-0003.jsonl']);
  });

  it('every problem at once, not just the first', async () => {
    const e = await buildExport(await fresh(), { exportId: 'exp_many', parts: [2, 2, 2] });
    await unlink(path.join(e.dir, 'part-0001.jsonl'));
    await writeFile(path.join(e.dir, 'part-0002.jsonl'), jsonl(3));
    await writeFile(path.join(e.dir, 'part-0009.jsonl'), jsonl(1));
    const cli = await verify([e.dir, '--json']);
    expect(cli.code).toBe(1);
    expect(codes(JSON.parse(cli.stdout) as VerifyReport)).toEqual([
      'part_missing part-0001.jsonl', 'part_records_mismatch part-0002.jsonl', 'part_sha256_mismatch part-0002.jsonl',
      'part_size_mismatch part-0002.jsonl', 'unlisted_part part-0009.jsonl',
    ]);
  });
});

describe('auditflow verify: keys and usage', () => {
  it('--public-key with the right PEM passes without any key under DATA_DIR; a wrong one fails', async () => {
    const e = await buildExport(await fresh(), { exportId: 'exp_pem' });
    const right = path.join(work, 'right.pem');
    const wrong = path.join(work, 'wrong.pem');
    await writeFile(right, publicPem);
    await writeFile(wrong, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));
    const emptyDataDir = path.join(work, 'no-key');
    const ok = await verify([e.dir, '--public-key', right], { DATA_DIR: emptyDataDir });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const bad = await verify([e.dir, '--public-key', wrong], { DATA_DIR: emptyDataDir });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^ +signature_invalid /m);
    expect(bad.stdout).toMatch(/^ +key_id_mismatch +exp_pem\/manifest\.json: signed by key [0-9a-f]{16}, the public key given is [0-9a-f]{16}$/m);
    // Without --public-key and no key under DATA_DIR: a usage error, and no key is created by verifying.
    const none = await verify([e.dir], { DATA_DIR: emptyDataDir });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no export signing key at .*no-key\/keys\/export-signing-ed25519\.pem: pass --public-key/);
  });

  it('EXPORT_SIGNING_KEY_FILE is the default key when set', async () => {
    const other = generateKeyPairSync('ed25519');
    const file = path.join(work, 'shared-signing.pem');
    await writeFile(file, other.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const e = await buildExport(await fresh(), { exportId: 'exp_shared', signer: other.privateKey });
    expect((await verify([e.dir], { EXPORT_SIGNING_KEY_FILE: file })).code).toBe(0);
    expect((await verify([e.dir])).code).toBe(1);
  });

  it('usage errors exit 2', async () => {
    const e = await buildExport(await fresh(), { exportId: 'exp_usage' });
    const rsa = path.join(work, 'rsa.pem');
    await writeFile(rsa, generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }));
    const cases: [string[], RegExp][] = [
      [[], /a manifest file or folder is required/],
      [[path.join(work, 'nowhere')], /no such file or folder/],
      [[e.dir, e.dir], /one target only/],
      [[e.dir, '--bogus'], /Unknown option '--bogus'/],
      [[e.dir, '--public-key', path.join(work, 'absent.pem')], /--public-key .*absent\.pem: ENOENT/],
      [[e.dir, '--public-key', rsa], /the public key is rsa, not Ed25519/],
    ];
    for (const [args, message] of cases) {
      const r = await verify(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toContain('usage: auditflow verify');
    }
    expect((await verify(['--help'])).stdout).toContain('Exit status: 0 all checks passed, 1 problems found, 2 usage error.');
  });

  it('a folder with no export in it, and a malformed manifest', async () => {
    const empty = await fresh();
    const r = await verifyJson(empty);
    expect(codes(r)).toEqual([`manifest_missing ${path.basename(empty)}`]);
    const e = await buildExport(await fresh(), { exportId: 'exp_malformed' });
    const m = parseManifest(e.bytes);
    expect(m.ok).toBe(true);
    await writeFile(path.join(e.dir, 'manifest.json'), JSON.stringify({ ...e.manifest, parts: 'none' }));
    const bad = await verify([e.dir]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^ +manifest_malformed +exp_malformed\/manifest\.json: parts: expected an array, got "none"$/m);
  });
});
