// `auditflow [all|ingest|processor|api|forwarder]`: parses the configuration once, starts the role, prints
// where it listens (and, embedded without a configured secret, a ready-to-use token), and drains
// on SIGTERM/SIGINT.
import { parseConfig, type Role } from './config.ts';
import { isAuditflowError } from './errors.ts';
import { startSystem } from './system.ts';
import { runExportCommand } from './export-command.ts';
import { runVerifyCommand } from './verify-command.ts';

const ROLES: readonly Role[] = ['all', 'ingest', 'processor', 'api', 'forwarder'];

const USAGE = `usage: auditflow [all|ingest|processor|api|forwarder]

  all        every role in one process (the default; the only role in embedded mode)
  ingest     HTTP ingest → Kafka                      (distributed: KAFKA_BROKERS)
  processor  Kafka → ClickHouse store sink           (distributed: KAFKA_BROKERS, CLICKHOUSE_URL)
  api        read APIs over ClickHouse               (distributed: CLICKHOUSE_URL)
  forwarder  Kafka → SIEM destinations (HEC, syslog, webhooks); scale by running more
                                                      (distributed: KAFKA_BROKERS, CLICKHOUSE_URL)

  export --from --to --format --destination --bucket [...]
             run an export on a running server, with progress (auditflow export --help)
  verify <manifest file or folder> [--public-key <PEM file>]
             check exports offline: signatures, parts, record counts, chains (auditflow verify --help)

Configuration comes from the environment; see README.md "Configuration".`;

export async function main(argv: string[]): Promise<void> {
  const arg = argv[0] ?? 'all';
  if (arg === '--help' || arg === '-h' || arg === 'help') {
    console.log(USAGE);
    return;
  }
  if (arg === 'export') {
    process.exitCode = await runExportCommand(argv.slice(1));
    return;
  }
  if (arg === 'verify') {
    // exitCode rather than exit(): the report on a pipe is written asynchronously.
    process.exitCode = await runVerifyCommand(argv.slice(1), process.env);
    return;
  }
  if (!(ROLES as readonly string[]).includes(arg)) {
    console.error(`auditflow: unknown role ${JSON.stringify(arg)}\n\n${USAGE}`);
    process.exit(2);
  }
  let system;
  try {
    const config = parseConfig(process.env, arg as Role);
    system = await startSystem(config);
  } catch (e) {
    if (isAuditflowError(e) && e.code === 'CONFIG_INVALID') {
      console.error(`auditflow: ${e.message}`);
      process.exit(2);
    }
    console.error(`auditflow: start-up failed: ${isAuditflowError(e) ? `${e.code}: ` : ''}${(e as Error).message}`);
    process.exit(1);
  }
  const c = system.config;
  console.log(`auditflow ${c.role} (${c.mode}) started${system.url ? `, listening on ${system.url}` : ''}`);
  if (c.mode === 'embedded') console.log(`data directory: ${c.dataDir}`);
  if (system.startupToken) {
    console.log(`admin token (tenant "default", every scope; secret kept in ${c.dataDir}/auth-secret):\n${system.startupToken}`);
    if (system.url) {
      console.log(`try: curl -H "Authorization: Bearer $TOKEN" ${system.url}/v1/audit/logs`);
      console.log(`dashboard: ${system.url}/#token=${system.startupToken}`);
    }
  }
  const shutdown = (signal: string) => {
    console.log(`auditflow: ${signal}, draining`);
    system.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error(`auditflow: shutdown failed: ${(e as Error).message}`);
        process.exit(1);
      },
    );
  };
  system.fatal.catch((e: unknown) => {
    console.error(`auditflow: the store sink stopped: ${isAuditflowError(e) ? `${e.code}: ` : ''}${(e as Error).message}; exiting so a supervisor restarts it (nothing acknowledged is lost: it is in the log)`);
    process.exit(1);
  });
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}
