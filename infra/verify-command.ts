// `auditflow verify <manifest file or folder> [--public-key <PEM file>] [--json]`: checks exports
// offline (processors/export/verify-export.ts) and prints one line per check and one per problem.
// Exit 0: all good; 1: problems found; 2: usage (bad arguments, no such target, no key).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { verifyExport, type VerifyReport } from '../processors/export/verify-export.ts';
import { parseConfig } from './config.ts';
import { isAuditflowError } from './errors.ts';
import { exportKeyPath, readExportSigningKey } from './export-keys.ts';

export const VERIFY_USAGE = `usage: auditflow verify <manifest file or folder> [--public-key <PEM file>] [--json]

  <manifest file>   one export: its manifest and the parts beside it
  <folder>          an export folder (holds manifest.json), or a folder of them (a schedule's prefix):
                    every export, and each schedule's chain of manifests in created_at order
  --public-key      the Ed25519 public key PEM (GET /v1/audit/export-keys); default: the signing key
                    of this installation (EXPORT_SIGNING_KEY_FILE, or DATA_DIR/keys)
  --json            print the report as JSON

Exit status: 0 all checks passed, 1 problems found, 2 usage error.`;

type Env = Record<string, string | undefined>;
interface Output { write(s: string): unknown }

class UsageError extends Error {}

async function publicKeyPem(file: string | undefined, env: Env): Promise<string> {
  if (file !== undefined) {
    try {
      return await readFile(file, 'utf8');
    } catch (e) {
      throw new UsageError(`--public-key ${file}: ${(e as Error).message}`);
    }
  }
  // Only the two settings the key needs: verifying offline must not require a deployment's Kafka or ClickHouse settings.
  const config = parseConfig({ DATA_DIR: env['DATA_DIR'], EXPORT_SIGNING_KEY_FILE: env['EXPORT_SIGNING_KEY_FILE'] }, 'all');
  const key = await readExportSigningKey(config);
  if (key === null) throw new UsageError(`no export signing key at ${exportKeyPath(config)}: pass --public-key <PEM file>`);
  return key.publicKeyPem;
}

export function formatReport(report: VerifyReport): string {
  // Paths relative to the folder holding the export (one export) or to the target folder (several).
  const base = report.exports === 1 && report.checks[0] ? path.dirname(report.checks[0].subject) : report.target;
  const rel = (p: string): string => (path.isAbsolute(p) ? path.relative(base, p) || '.' : p);
  const lines = [`verify ${report.target}: ${report.exports} export${report.exports === 1 ? '' : 's'}, public key ${report.keyId}`];
  for (const c of report.checks) {
    lines.push(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.group.padEnd(9)}  ${rel(c.subject)}: ${c.summary}`);
    for (const p of c.problems) lines.push(`      ${p.code}  ${rel(p.file)}: ${p.message}`);
  }
  for (const n of report.notes) lines.push(`note  ${rel(n.file)}: ${n.message}`);
  const n = report.problems.length;
  lines.push(report.ok ? 'OK: every check passed' : `FAILED: ${n} problem${n === 1 ? '' : 's'}`);
  return `${lines.join('\n')}\n`;
}

export async function runVerifyCommand(argv: string[], env: Env, out: Output = process.stdout, err: Output = process.stderr): Promise<number> {
  try {
    const { values, positionals } = (() => {
      try {
        return parseArgs({ args: argv, allowPositionals: true, strict: true, options: { 'public-key': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    })();
    if (values.help) {
      out.write(`${VERIFY_USAGE}\n`);
      return 0;
    }
    if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'a manifest file or folder is required' : `one target only, got ${positionals.length}`);
    const pem = await publicKeyPem(values['public-key'], env);
    const report = await verifyExport(positionals[0]!, { publicKeyPem: pem });
    out.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return report.ok ? 0 : 1;
  } catch (e) {
    if (e instanceof UsageError || (isAuditflowError(e) && (e.code === 'VALIDATION_FAILED' || e.code === 'CONFIG_INVALID'))) {
      err.write(`auditflow verify: ${(e as Error).message}\n\n${VERIFY_USAGE}\n`);
      return 2;
    }
    // Not a finding but a failure to look (an unreadable folder): still not a pass.
    err.write(`auditflow verify: ${(e as Error).message}\n`);
    return 1;
  }
}
