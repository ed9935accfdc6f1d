// The stored history bench:api reads: audit_events and change_log rows exactly as the store sink
// writes them (`{"seq":…,"received_at":…,"log_partition":…,"log_offset":…,` + the canonical log
// form), generated straight into JSONEachRow chunks for a direct insert (10M events through HTTP
// ingest would take longer than the benchmark).
//
// Realistic spread: tenants of Zipf-like sizes (the largest holds ~1/3 of everything), contiguous
// per-tenant seq, event_time spread over `days` days ending at `endMs` in seq order, received_at a
// little after it; per tenant, identities, files, secret paths, shares and IPs whose counts grow with
// the tenant's size, picked with a skew (a few hot ones, a long tail); unique request ids.
// Everything is a pure function of the plan (seeded PRNG), so a child process rebuilds the same rows.
import { partitionForKey } from '../../infra/log/partitioner.ts';
import { normalizeAudit, normalizeChange } from '../../schemas/normalize.ts';
import { mulberry32 } from './events.ts';

export interface HistoryPlan {
  tenants: string[];
  /** audit_events / change_log rows per tenant (same order as `tenants`). */
  audit: number[];
  changes: number[];
  /** Log partitions the tenants are keyed over (1 embedded, 3 on the Kafka path). */
  partitions: number;
  /** log_offset of the rows: their position in the partition (the embedded log then continues
   *  after them), or 0 (a fresh Kafka topic cannot start past 0: one filler record per partition
   *  takes offset 0 instead, see api-deployments.ts). */
  offsets: 'position' | 'zero';
  endMs: number;
  days: number;
  seed: number;
}

/** Sizes by Zipf weights 1/(k+1): with 8 tenants the largest holds 37%. */
export function planHistory(o: Omit<HistoryPlan, 'audit' | 'changes'> & { events: number; changeEvents: number }): HistoryPlan {
  const w = o.tenants.map((_, k) => 1 / (k + 1));
  const sum = w.reduce((a, b) => a + b, 0);
  const split = (total: number) => {
    const n = w.map((x) => Math.floor((total * x) / sum));
    n[0]! += total - n.reduce((a, b) => a + b, 0);
    return n;
  };
  return { tenants: o.tenants, audit: split(o.events), changes: split(o.changeEvents), partitions: o.partitions, offsets: o.offsets, endMs: o.endMs, days: o.days, seed: o.seed };
}

const DEPTS = ['Finance', 'Engineering', 'Legal', 'Sales', 'People', 'Marketing', 'Security', 'Operations'];
const DOCS = ['board-deck', 'contract-draft', 'payroll-export', 'roadmap', 'incident-report', 'customer-list', 'design-spec', 'budget', 'minutes', 'invoice'];
const EXTS: [string, string][] = [['pdf', 'application/pdf'], ['csv', 'text/csv'], ['png', 'image/png'], ['zip', 'application/zip'], ['docx', 'application/msword'], ['xlsx', 'application/vnd.ms-excel']];
const UAS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/130.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) Version/18.0 Safari/605.1.15',
  'ScaiDrive-Desktop/4.12.3 (Windows 11; x64) sync-engine/2.8.1',
  'scaivault-python/1.4.2 (CPython 3.12.4; Linux x86_64)',
  'scaivault-go/0.9.1',
];
// [event_type, action, category, weight]
const DRIVE: [string, string, string, number][] = [
  ['file.read', 'read', 'file_access', 35], ['file.download', 'download', 'file_access', 20], ['file.update', 'update', 'file_modification', 15],
  ['file.create', 'create', 'file_modification', 10], ['permission.check', 'check', 'authorization', 10], ['share.create', 'share', 'sharing', 5],
  ['auth.login', 'login', 'authentication', 5],
];
const VAULT: [string, number][] = [['read', 60], ['list', 12], ['write', 8], ['rotate', 5], ['delete', 2], ['policy_update', 3], ['pki_issue', 4], ['dynamic_generate', 6]];
const SERVICE_ACCOUNTS = ['sa:reporting', 'sa:billing-sync', 'sa:ci-deployer', 'sa:etl-nightly', 'sa:backup', 'sa:siem-forwarder', 'sa:crm-sync', 'sa:monitoring', 'sa:payments', 'sa:search-indexer', 'sa:ml-training', 'sa:provisioner'];
const VAULT_ROOTS = ['integrations/salesforce/oauth', 'databases/prod/postgres', 'ci/github-actions', 'payments/stripe', 'infra/aws', 'infra/gcp', 'apps/web/session', 'apps/mobile/push'];
const CHANGE_TYPES: [string, number][] = [['updated', 55], ['created', 25], ['moved', 7], ['renamed', 6], ['deleted', 7]];

function weighted<T>(items: [T, number][]): (r: number) => T {
  const total = items.reduce((n, [, w]) => n + w, 0);
  return (r) => {
    let x = r * total;
    for (const [v, w] of items) if ((x -= w) < 0) return v;
    return items[items.length - 1]![0];
  };
}
const pickDrive = weighted(DRIVE.map((d) => [d, d[3]] as [typeof d, number]));
const pickVault = weighted(VAULT);
const pickChange = weighted(CHANGE_TYPES);
/** A skewed index in [0, n): r^2.5 puts ~40% of picks on the first 10%. */
const skewed = (r: number, n: number) => Math.min(n - 1, Math.floor(n * r ** 2.5));
const clamp = (x: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, Math.round(x)));

/** A tenant's vocabularies, sized by how many events it has. */
function vocabulary(n: number) {
  return { users: clamp(n / 2000, 25, 5000), files: clamp(n / 40, 200, 250_000), secrets: clamp(n / 4000, 24, 2500), shares: clamp(n / 20_000, 10, 500), ips: clamp(n / 1000, 40, 10_000) };
}

const filePath = (i: number) => `/${DEPTS[i % DEPTS.length]}/Projects/p${(i >> 3) % 97}/${DOCS[(i >> 2) % DOCS.length]}-${i}.${EXTS[i % EXTS.length]![0]}`;
const ipOf = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const userOf = (tag: string, i: number) => `usr_${tag}${i.toString(36).padStart(4, '0')}`;
export const secretPathOf = (i: number) => `${VAULT_ROOTS[i % VAULT_ROOTS.length]}/key-${i}`;

interface Clock { startMs: number; spanMs: number }

/** event time of row `seq` (1-based) of `n`, in seq order with a little jitter, and its received_at. */
function times(c: Clock, seq: number, n: number, r: number): [string, string] {
  const t = c.startMs + Math.floor(((seq - 1 + r * 0.9) / n) * c.spanMs);
  return [new Date(t).toISOString(), new Date(t + 20 + Math.floor(r * 800)).toISOString()];
}

function auditRow(rnd: () => number, tenant: string, tag: string, seq: number, n: number, v: ReturnType<typeof vocabulary>, c: Clock, prefix: string): string {
  const [eventTime, receivedAt] = times(c, seq, n, rnd());
  const ok = rnd() > 0.07;
  const ip = ipOf(skewed(rnd(), v.ips));
  const ua = UAS[Math.floor(rnd() * UAS.length)]!;
  const req = `req_${tag}${seq.toString(16).padStart(12, '0')}`;
  const id = `aud_h${tag}${seq.toString(36).padStart(7, '0')}`;
  const head = `{"seq":${seq},"received_at":"${receivedAt}",${prefix}"id":"${id}","tenant_id":"${tenant}","partner_id":"","event_time":"${eventTime}",`;
  if (rnd() < 0.55) {
    const [eventType, action, category] = pickDrive(rnd());
    const u = skewed(rnd(), v.users);
    const f = skewed(rnd(), v.files);
    const [ext, mime] = EXTS[f % EXTS.length]!;
    const sa = rnd() < 0.1 ? `"sa_${tag}${(u % 7).toString()}"` : 'null';
    const outcome = ok ? 'success' : 'denied';
    return `${head}"event_type":"${eventType}","action":"${action}","category":"${category}","severity":"${ok ? 'info' : 'warning'}","outcome":"${outcome}","success":${ok},`
      + `"actor_id":"${userOf(tag, u)}","actor_type":"user","actor_email":"user${u}@${tag}.example.com","service_account":${sa},`
      + `"resource_type":"file","resource_id":"fil_${tag}${f.toString(36)}","resource_name":"${DOCS[(f >> 2) % DOCS.length]}-${f}.${ext}","resource_path":"${filePath(f)}",`
      + `"share_id":"shr_${tag}${(f % v.shares).toString(36)}","source_ip":"${ip}","user_agent":"${ua}","request_id":"${req}","duration_ms":${Math.floor(rnd() * 400)},`
      + `"action_source":"${['web', 'desktop', 'api', 'mobile'][Math.floor(rnd() * 4)]}","details":"{\\"size\\":${Math.floor(rnd() * 5e7)},\\"version\\":${1 + Math.floor(rnd() * 20)},\\"mime_type\\":\\"${mime}\\"}",`
      + `"source_format":"${rnd() < 0.5 ? 'scaidrive' : 'canonical'}"}\n`;
  }
  const action = pickVault(rnd());
  const isSa = rnd() < 0.65;
  const actor = isSa ? SERVICE_ACCOUNTS[skewed(rnd(), SERVICE_ACCOUNTS.length)]! : userOf(tag, skewed(rnd(), v.users));
  const category = action.startsWith('policy_') ? 'authorization' : 'security';
  return `${head}"event_type":"secret.${action}","action":"${action}","category":"${category}","severity":"${ok ? 'info' : 'warning'}","outcome":"${ok ? 'success' : 'failure'}","success":${ok},`
    + `"actor_id":"${actor}","actor_type":"${isSa ? 'service_account' : 'user'}","actor_email":"","service_account":null,`
    + `"resource_type":"secret","resource_id":"","resource_name":"","resource_path":"${secretPathOf(skewed(rnd(), v.secrets))}","share_id":"",`
    + `"source_ip":"${ip}","user_agent":"${ua}","request_id":"${req}","duration_ms":${Math.floor(rnd() * 60)},"action_source":"",`
    + `"details":"{\\"version\\":${1 + Math.floor(rnd() * 12)},\\"mount\\":\\"kv-v2\\"}","source_format":"scaivault"}\n`;
}

function changeRow(rnd: () => number, tenant: string, tag: string, seq: number, n: number, v: ReturnType<typeof vocabulary>, c: Clock, prefix: string): string {
  const [changedAt, receivedAt] = times(c, seq, n, rnd());
  const folder = rnd() < 0.12;
  const f = skewed(rnd(), v.files);
  const type = pickChange(rnd());
  const p = folder ? `/${DEPTS[f % DEPTS.length]}/Projects/p${f % 97}` : filePath(f);
  const moved = `${p.slice(0, p.lastIndexOf('/'))}/archive${p.slice(p.lastIndexOf('/'))}`;
  const [oldPath, newPath] = type === 'created' ? ['null', `"${p}"`] : type === 'deleted' ? [`"${p}"`, 'null'] : type === 'updated' ? [`"${p}"`, `"${p}"`] : [`"${p}"`, `"${moved}"`];
  const version = !folder && (type === 'created' || type === 'updated') ? `"ver_${tag}${seq.toString(36)}"` : 'null';
  const [, mime] = EXTS[f % EXTS.length]!;
  const metadata = folder ? '{}' : `{\\"size\\":${Math.floor(rnd() * 5e7)},\\"mime_type\\":\\"${mime}\\"}`;
  return `{"seq":${seq},"received_at":"${receivedAt}",${prefix}"id":"chg_h${tag}${seq.toString(36).padStart(7, '0')}","tenant_id":"${tenant}",`
    + `"resource_type":"${folder ? 'folder' : 'file'}","resource_id":"${folder ? 'fld' : 'fil'}_${tag}${f.toString(36)}","change_type":"${type}",`
    + `"changed_by":"${userOf(tag, skewed(rnd(), v.users))}","changed_at":"${changedAt}","metadata":"${metadata}","old_path":${oldPath},"new_path":${newPath},`
    + `"version_id":${version},"share_id":"shr_${tag}${(f % v.shares).toString(36)}"}\n`;
}

export type HistoryTable = 'audit_events' | 'change_log';

/**
 * The table's rows in `chunkRows`-row JSONEachRow chunks, in arrival order: each chunk is a time
 * slice holding every tenant's next rows, as a live stream interleaves them. `onOffsets` receives,
 * at the end, each partition's next log offset (= rows written to it).
 */
export function* historyChunks(plan: HistoryPlan, table: HistoryTable, chunkRows: number, onOffsets?: (next: number[]) => void): Generator<Buffer> {
  const counts = table === 'audit_events' ? plan.audit : plan.changes;
  const total = counts.reduce((a, b) => a + b, 0);
  const slices = Math.max(1, Math.ceil(total / chunkRows));
  const c: Clock = { startMs: plan.endMs - plan.days * 86_400_000, spanMs: plan.days * 86_400_000 };
  const rnd = mulberry32(plan.seed ^ (table === 'audit_events' ? 0xa0d17 : 0xc4a46e));
  const offsets = new Array<number>(plan.partitions).fill(0);
  const part = plan.tenants.map((t) => (plan.partitions === 1 ? 0 : partitionForKey(t, plan.partitions)));
  const vocab = counts.map((n, k) => vocabulary(table === 'audit_events' ? n : plan.audit[k]!));
  const row = table === 'audit_events' ? auditRow : changeRow;
  // Rows are ASCII: written straight into one buffer per chunk (joining 100k strings cost more
  // in GC than building them).
  let buf = Buffer.allocUnsafe(Math.ceil(total / slices) * 1024 + 65_536);
  for (let s = 0; s < slices; s++) {
    let used = 0;
    plan.tenants.forEach((tenant, k) => {
      const n = counts[k]!;
      const from = Math.floor((n * s) / slices) + 1;
      const to = Math.floor((n * (s + 1)) / slices);
      const tag = `t${k.toString(36)}`;
      for (let seq = from; seq <= to; seq++) {
        const p = part[k]!;
        const off = plan.offsets === 'position' ? offsets[p]! : 0;
        offsets[p]!++;
        const line = row(rnd, tenant, tag, seq, n, vocab[k]!, c, `"log_partition":${p},"log_offset":${off},`);
        if (used + line.length > buf.length) {
          const bigger = Buffer.allocUnsafe(buf.length * 2);
          buf.copy(bigger, 0, 0, used);
          buf = bigger;
        }
        used += buf.write(line, used, 'latin1');
      }
    });
    if (used > 0) yield Buffer.from(buf.subarray(0, used));
  }
  onOffsets?.(offsets);
}

/**
 * Checks that generated rows are what the sink would write: each row's log form (the row without
 * its four position fields) is exactly what the project's normaliser makes of it.
 */
export function checkRowShape(chunk: Buffer, table: HistoryTable, sample = 2000): void {
  const lines = chunk.toString('latin1', 0, Math.min(chunk.length, sample * 1200)).split('\n').slice(0, -1).slice(0, sample);
  for (const line of lines) {
    const row = JSON.parse(line) as Record<string, unknown>;
    const { seq: _s, received_at: _r, log_partition: _p, log_offset: _o, ...form } = row;
    const text = JSON.stringify(form);
    const n = table === 'audit_events' ? normalizeAudit(form, { tenantId: String(form['tenant_id']) }) : normalizeChange(form, { tenantId: String(form['tenant_id']) });
    if (!n.ok) throw new Error(`generated ${table} row is invalid: ${JSON.stringify(n.errors)}\n${line}`);
    if (JSON.stringify(n.value) !== text) throw new Error(`generated ${table} row differs from its normalised log form:\n${text}\n${JSON.stringify(n.value)}`);
    if (!line.startsWith(`{"seq":${String(row['seq'])},"received_at":"${String(row['received_at'])}","log_partition":`)) throw new Error('row prefix differs from the sink\'s');
  }
}
