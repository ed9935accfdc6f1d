// `auditflow export`: runs an export against a running server (POST /v1/audit/export, then its
// status until it ends) with a progress bar in a terminal — records written, rate, ETA — and a
// plain line every few seconds otherwise (CI logs, pipes). Exit 0 completed, 1 failed or
// cancelled, 2 usage.
import { parseArgs } from 'node:util';

export const EXPORT_USAGE = `usage: auditflow export --from <ISO> --to <ISO> --format jsonl|csv --destination s3|gcs|azure_blob|local --bucket <name>
                        [--prefix <p>] [--credentials-path <path>] [--compression gzip] [--filter name=value ...]
                        [--url <server>] [--token <JWT>] [--no-wait]

  --url      the server (default $AUDITFLOW_URL or http://127.0.0.1:8080)
  --token    a token with audit:export (default $AUDITFLOW_TOKEN)
  --filter   a /v1/audit/logs filter, e.g. --filter action=read,write --filter success=false
  --no-wait  print the export id and return once it is queued`;

interface Out {
  isTTY: boolean;
  write(s: string): void;
}

export interface ExportCommandIo {
  stdout: Out;
  stderr: Out;
  env: Record<string, string | undefined>;
  fetch: typeof fetch;
  sleep(ms: number): Promise<void>;
  now(): number;
}

const defaultIo = (): ExportCommandIo => ({
  stdout: process.stdout, stderr: process.stderr, env: process.env, fetch, now: Date.now,
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
});

export async function runExportCommand(argv: string[], io: ExportCommandIo = defaultIo()): Promise<number> {
  let a;
  try {
    a = parseArgs({
      args: argv, allowPositionals: false,
      options: {
        from: { type: 'string' }, to: { type: 'string' }, format: { type: 'string' }, destination: { type: 'string' },
        bucket: { type: 'string' }, prefix: { type: 'string' }, 'credentials-path': { type: 'string' }, compression: { type: 'string' },
        filter: { type: 'string', multiple: true }, url: { type: 'string' }, token: { type: 'string' }, 'no-wait': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (e) {
    io.stderr.write(`auditflow export: ${(e as Error).message}\n\n${EXPORT_USAGE}\n`);
    return 2;
  }
  if (a.help) {
    io.stdout.write(`${EXPORT_USAGE}\n`);
    return 0;
  }
  const url = (a.url ?? io.env['AUDITFLOW_URL'] ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  const token = a.token ?? io.env['AUDITFLOW_TOKEN'];
  const missing = (['from', 'to', 'format', 'destination', 'bucket'] as const).filter((k) => a[k] === undefined);
  if (!token) missing.push('token' as never);
  if (missing.length > 0) {
    io.stderr.write(`auditflow export: missing ${missing.map((m) => `--${m}`).join(', ')}\n\n${EXPORT_USAGE}\n`);
    return 2;
  }
  const filters: Record<string, string> = {};
  for (const f of a.filter ?? []) {
    const eq = f.indexOf('=');
    if (eq <= 0) {
      io.stderr.write(`auditflow export: --filter takes name=value, got ${JSON.stringify(f)}\n`);
      return 2;
    }
    filters[f.slice(0, eq)] = f.slice(eq + 1);
  }
  const body = {
    from: a.from, to: a.to, format: a.format, filters,
    destination: { type: a.destination, bucket: a.bucket, ...(a.prefix ? { prefix: a.prefix } : {}), ...(a['credentials-path'] ? { credentials_path: a['credentials-path'] } : {}) },
    ...(a.compression ? { compression: a.compression } : {}),
  };
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  let res: Response;
  try {
    res = await io.fetch(`${url}/v1/audit/export`, { method: 'POST', headers, body: JSON.stringify(body) });
  } catch (e) {
    io.stderr.write(`auditflow export: cannot reach ${url}: ${(e as Error).message}\n`);
    return 1;
  }
  const created = (await res.json()) as { export_id?: string; estimated_records?: number; error?: string; code?: string; details?: { path: string; message: string }[] };
  if (res.status !== 202 || !created.export_id) {
    io.stderr.write(`auditflow export: ${res.status} ${created.code ?? ''}: ${created.error ?? ''}\n`);
    for (const d of created.details ?? []) io.stderr.write(`  ${d.path}: ${d.message}\n`);
    return 1;
  }
  const id = created.export_id;
  io.stdout.write(`export ${id} queued: ${created.estimated_records ?? 0} records\n`);
  if (a['no-wait']) return 0;
  return follow(url, id, headers, created.estimated_records ?? 0, io);
}

interface ExportStatus {
  status: string;
  record_count: number;
  files: { key: string; size_bytes: number }[];
  progress?: { records_written: number; estimated_records: number };
  error?: string;
  manifest_key?: string;
}

async function follow(url: string, id: string, headers: Record<string, string>, estimated: number, io: ExportCommandIo): Promise<number> {
  const started = io.now();
  const tty = io.stdout.isTTY;
  let lastLine = 0;
  for (;;) {
    const res = await io.fetch(`${url}/v1/audit/exports/${id}`, { headers });
    const s = (await res.json()) as ExportStatus;
    const written = s.progress?.records_written ?? s.record_count ?? 0;
    const elapsed = Math.max(1, io.now() - started) / 1000;
    const rate = written / elapsed;
    if (tty) {
      io.stdout.write(`\r${bar(written, estimated)} ${fmt(written)}/${fmt(estimated)} records  ${fmt(Math.round(rate))} rec/s  ETA ${eta(written, estimated, rate)}\x1b[K`);
    } else if (io.now() - lastLine >= 2000 || s.status !== 'running') {
      lastLine = io.now();
      io.stdout.write(`export ${id}: ${s.status} ${written}/${estimated} records, ${Math.round(rate)} records/s\n`);
    }
    if (s.status === 'completed' || s.status === 'failed' || s.status === 'cancelled') {
      if (tty) io.stdout.write('\n');
      if (s.status !== 'completed') {
        io.stderr.write(`export ${id} ${s.status}${s.error ? `: ${s.error}` : ''}\n`);
        return 1;
      }
      const bytes = s.files.reduce((n, f) => n + f.size_bytes, 0);
      io.stdout.write(`export ${id} completed: ${s.record_count} records in ${s.files.length} parts (${fmt(bytes)} bytes), manifest ${s.manifest_key ?? ''}\n`);
      return 0;
    }
    await io.sleep(tty ? 250 : 1000);
  }
}

const fmt = (n: number) => n.toLocaleString('en-US');

function bar(done: number, total: number, width = 24): string {
  const f = total > 0 ? Math.min(1, done / total) : 0;
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}] ${String(Math.floor(f * 100)).padStart(3)}%`;
}

function eta(done: number, total: number, rate: number): string {
  if (rate <= 0 || done >= total) return '0s';
  const s = Math.ceil((total - done) / rate);
  return s >= 60 ? `${Math.floor(s / 60)}m${s % 60}s` : `${s}s`;
}
