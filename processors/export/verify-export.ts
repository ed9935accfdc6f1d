// Offline verification of exports on a local folder (what `auditflow verify` runs). The target is a
// manifest file, an export folder (it holds manifest.json), or a folder of export folders (a
// schedule's prefix, searched downwards), whose scheduled exports are also checked as chains. Every
// problem is reported, each with the file it concerns; nothing stops at the first.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { lstat, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { AuditflowError } from '../../infra/errors.ts';
import { canonicalJson, exportKeyId, MANIFEST_FILE, manifestSha256, parseManifest, verifyManifestSignature, type ExportManifest } from './manifest.ts';
import { scanPart } from './part-scan.ts';

export type ProblemCode =
  | 'manifest_missing' | 'manifest_unreadable' | 'manifest_malformed'
  | 'signature_invalid' | 'key_id_mismatch'
  | 'part_missing' | 'part_size_mismatch' | 'part_sha256_mismatch' | 'part_unreadable' | 'part_records_mismatch'
  | 'record_count_mismatch' | 'unlisted_part' | 'chain_broken';

export type CheckGroup = 'manifest' | 'signature' | 'parts' | 'records' | 'folder' | 'chain';

export interface VerifyProblem { readonly code: ProblemCode; readonly file: string; readonly message: string }
export interface VerifyNote { readonly file: string; readonly message: string }
export interface VerifyCheck {
  readonly group: CheckGroup;
  /** The export folder (or, for a chain, the schedule) checked. */
  readonly subject: string;
  readonly ok: boolean;
  readonly summary: string;
  readonly problems: readonly VerifyProblem[];
}
export interface VerifyReport {
  readonly ok: boolean;
  readonly target: string;
  readonly keyId: string;
  readonly exports: number;
  readonly checks: readonly VerifyCheck[];
  readonly problems: readonly VerifyProblem[];
  readonly notes: readonly VerifyNote[];
}

/** Files named like parts (part-0001.jsonl, part-0002.csv.gz, a leftover part-0003.jsonl.tmp): none may be unlisted. */
const PART_FILE = /^part-/;
/** Export folders are searched this deep below the target. */
const MAX_DEPTH = 8;

interface ExportFolder { readonly dir: string; readonly manifestFile: string }
interface CheckedExport { readonly folder: ExportFolder; readonly bytes: Buffer; readonly manifest: ExportManifest }

class Checks {
  readonly checks: VerifyCheck[] = [];
  readonly notes: VerifyNote[] = [];
  add(group: CheckGroup, subject: string, summary: string, problems: VerifyProblem[]): void {
    this.checks.push({ group, subject, ok: problems.length === 0, summary, problems });
  }
  note(file: string, message: string): void {
    this.notes.push({ file, message });
  }
}

const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;

function usage(message: string): never {
  throw new AuditflowError('VALIDATION_FAILED', message);
}

export function parsePublicKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (e) {
    return usage(`the public key is not a PEM key: ${(e as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') usage(`the public key is ${key.asymmetricKeyType ?? 'unknown'}, not Ed25519`);
  return key;
}

/** Throws VALIDATION_FAILED for a target that does not exist or a key that is not Ed25519; every other finding is in the report. */
export async function verifyExport(target: string, opts: { publicKeyPem: string }): Promise<VerifyReport> {
  const publicKey = parsePublicKey(opts.publicKeyPem);
  const abs = path.resolve(target);
  const st = await stat(abs).catch(() => usage(`${target}: no such file or folder`));
  const out = new Checks();
  const folders: ExportFolder[] = [];
  if (st.isFile()) folders.push({ dir: path.dirname(abs), manifestFile: abs });
  else await findExports(abs, 0, folders, out);
  if (folders.length === 0 && !out.checks.some((c) => c.problems.some((p) => p.code === 'manifest_missing'))) {
    out.add('manifest', abs, 'no export found', [{ code: 'manifest_missing', file: abs, message: `no ${MANIFEST_FILE} in ${abs} or below it` }]);
  }
  const checked: CheckedExport[] = [];
  for (const f of folders) {
    const c = await verifyOne(f, publicKey, out);
    if (c) checked.push(c);
  }
  // A lone manifest cannot show its chain; a folder of exports shows the links between them.
  if (st.isDirectory() && folders[0]?.dir !== abs) checkChains(checked, out);
  else for (const c of checked) if (c.manifest.previous_manifest_sha256 !== null) out.note(c.folder.manifestFile, 'previous_manifest_sha256 not checked: verify the schedule\'s folder to check the chain');
  const problems = out.checks.flatMap((c) => c.problems);
  return { ok: problems.length === 0, target: abs, keyId: exportKeyId(publicKey), exports: folders.length, checks: out.checks, problems, notes: out.notes };
}

async function findExports(dir: string, depth: number, found: ExportFolder[], out: Checks): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  if (entries.some((e) => e.isFile() && e.name === MANIFEST_FILE)) {
    found.push({ dir, manifestFile: path.join(dir, MANIFEST_FILE) });
    return;
  }
  if (entries.some((e) => e.isFile() && PART_FILE.test(e.name))) {
    out.add('manifest', dir, 'parts without a manifest', [{ code: 'manifest_missing', file: path.join(dir, MANIFEST_FILE), message: `${dir} holds part files but no ${MANIFEST_FILE}` }]);
  }
  if (depth >= MAX_DEPTH) return;
  // Sorted, so the report's order does not depend on the file system's.
  for (const e of entries.filter((x) => x.isDirectory()).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    await findExports(path.join(dir, e.name), depth + 1, found, out);
  }
}

async function verifyOne(folder: ExportFolder, publicKey: KeyObject, out: Checks): Promise<CheckedExport | null> {
  const file = folder.manifestFile;
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    out.add('manifest', folder.dir, 'cannot read the manifest', [{ code: 'manifest_unreadable', file, message: (e as Error).message }]);
    return null;
  }
  const parsed = parseManifest(bytes);
  if (!parsed.ok) {
    out.add('manifest', folder.dir, 'the manifest is malformed', parsed.errors.map((message) => ({ code: 'manifest_malformed' as const, file, message })));
    return null;
  }
  const m = parsed.manifest;
  const basenames = new Map<string, string>();
  const clashes: VerifyProblem[] = [];
  for (const p of m.parts) {
    const name = path.posix.basename(p.key);
    const other = basenames.get(name);
    if (other !== undefined) clashes.push({ code: 'manifest_malformed', file, message: `parts ${JSON.stringify(other)} and ${JSON.stringify(p.key)} would be the same local file ${name}` });
    basenames.set(name, p.key);
  }
  out.add('manifest', folder.dir, `export ${m.export_id} (tenant ${m.tenant_id}${m.schedule_id ? `, schedule ${m.schedule_id}` : ''}), ${plural(m.parts.length, 'part')}, ${m.query.format}${m.query.compression ? `+${m.query.compression}` : ''}, ${m.query.from} – ${m.query.to}`, clashes);
  if (!bytes.equals(Buffer.from(canonicalJson(m), 'utf8'))) {
    out.note(file, 'not in canonical form (reformatted after it was written?): the signature still covers the content, but the next manifest links to the bytes as written');
  }

  const sig = verifyManifestSignature(m, publicKey);
  const sigProblems: VerifyProblem[] = [];
  if (!sig.signatureValid) sigProblems.push({ code: 'signature_invalid', file, message: `the ${m.signature.alg} signature does not verify against key ${sig.keyId}: the manifest was changed or signed by another key` });
  if (!sig.keyIdMatches) sigProblems.push({ code: 'key_id_mismatch', file, message: `signed by key ${m.signature.key_id}, the public key given is ${sig.keyId}` });
  out.add('signature', folder.dir, `Ed25519 by key ${m.signature.key_id}`, sigProblems);

  const partProblems: VerifyProblem[] = [];
  const recordProblems: VerifyProblem[] = [];
  let counted = 0;
  for (const p of m.parts) {
    const local = path.join(folder.dir, path.posix.basename(p.key));
    const pst = await stat(local).catch(() => null);
    if (!pst?.isFile()) {
      partProblems.push({ code: 'part_missing', file: local, message: `listed in the manifest (${p.key}) but not in the folder` });
      continue;
    }
    let scan;
    try {
      scan = await scanPart(local, { format: m.query.format, gzip: m.query.compression === 'gzip' });
    } catch (e) {
      partProblems.push({ code: 'part_unreadable', file: local, message: (e as Error).message });
      continue;
    }
    if (scan.sizeBytes !== p.size_bytes) partProblems.push({ code: 'part_size_mismatch', file: local, message: `${scan.sizeBytes} bytes, the manifest says ${p.size_bytes}` });
    if (scan.sha256 !== p.sha256) partProblems.push({ code: 'part_sha256_mismatch', file: local, message: `SHA-256 ${scan.sha256}, the manifest says ${p.sha256}` });
    if (scan.records === null) {
      recordProblems.push({ code: 'part_unreadable', file: local, message: `records cannot be counted: ${scan.unreadable ?? 'unreadable'}` });
      continue;
    }
    counted += scan.records;
    if (scan.records !== p.records) recordProblems.push({ code: 'part_records_mismatch', file: local, message: `${scan.records} records, the manifest says ${p.records}` });
  }
  out.add('parts', folder.dir, `${m.parts.length - new Set(partProblems.map((p) => p.file)).size} of ${m.parts.length} parts present with the listed size and SHA-256`, partProblems);
  const listed = m.parts.reduce((s, p) => s + p.records, 0);
  if (listed !== m.record_count) recordProblems.push({ code: 'record_count_mismatch', file, message: `record_count is ${m.record_count}, the parts list ${listed}` });
  out.add('records', folder.dir, `${counted} records counted, record_count ${m.record_count}`, recordProblems);

  const folderProblems: VerifyProblem[] = [];
  const expected = new Set([path.basename(file), ...basenames.keys()]);
  for (const e of await readdir(folder.dir, { withFileTypes: true })) {
    if (expected.has(e.name)) continue;
    const other = path.join(folder.dir, e.name);
    if (e.isFile() && PART_FILE.test(e.name)) folderProblems.push({ code: 'unlisted_part', file: other, message: 'a part file the manifest does not list' });
    else if (!(await lstat(other)).isDirectory()) out.note(other, 'not part of the export (not listed, not named like a part): ignored');
  }
  out.add('folder', folder.dir, folderProblems.length === 0 ? 'no unlisted part files' : plural(folderProblems.length, 'unlisted part file'), folderProblems);
  return { folder, bytes, manifest: m };
}

/** Each schedule's manifests in created_at order: every one links to the hash of the one before. */
function checkChains(exports: CheckedExport[], out: Checks): void {
  const bySchedule = new Map<string, CheckedExport[]>();
  for (const e of exports) {
    if (e.manifest.schedule_id === null) continue;
    const k = JSON.stringify([e.manifest.tenant_id, e.manifest.schedule_id]);
    bySchedule.set(k, [...(bySchedule.get(k) ?? []), e]);
  }
  const hashes = new Map(exports.map((e) => [manifestSha256(e.bytes), e.folder.manifestFile]));
  for (const chain of bySchedule.values()) {
    chain.sort((a, b) => Date.parse(a.manifest.created_at) - Date.parse(b.manifest.created_at) || (a.manifest.export_id < b.manifest.export_id ? -1 : 1));
    const first = chain[0]!;
    const problems: VerifyProblem[] = [];
    const head = first.manifest.previous_manifest_sha256;
    if (head === null) out.note(first.folder.manifestFile, 'first of its chain (no previous manifest)');
    else if (!hashes.has(head)) out.note(first.folder.manifestFile, `links to manifest ${head}, which is not in this folder (an earlier run)`);
    else problems.push({ code: 'chain_broken', file: first.folder.manifestFile, message: `the earliest manifest links to ${hashes.get(head)}, created after it` });
    for (let i = 1; i < chain.length; i++) {
      const prev = chain[i - 1]!;
      const cur = chain[i]!;
      const want = manifestSha256(prev.bytes);
      const got = cur.manifest.previous_manifest_sha256;
      if (got === want) continue;
      const where = got === null ? 'null (a new chain)' : hashes.has(got) ? `${got}, the hash of ${hashes.get(got)}` : `${got}, a manifest not in this folder (removed or replaced)`;
      problems.push({ code: 'chain_broken', file: cur.folder.manifestFile, message: `previous_manifest_sha256 should be ${want} (${prev.folder.manifestFile}, the run before), it is ${where}` });
    }
    out.add('chain', `schedule ${first.manifest.schedule_id} (tenant ${first.manifest.tenant_id})`, `${plural(chain.length, 'manifest')} in created_at order, ${plural(chain.length - 1 - problems.filter((p) => p.file !== first.folder.manifestFile).length, 'link')} intact`, problems);
  }
}
