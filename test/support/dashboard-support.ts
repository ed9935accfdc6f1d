// What the dashboard's browser test and its screenshot script share: Debian's Chromium driven by
// playwright-core (never a downloaded browser), and a tenant's worth of varied ScaiVault log
// entries ingested through the running system and waited for until readable.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { getAllLogs, ingest } from './api-client.ts';
import { until, type Topology } from './topologies.ts';

export const CHROMIUM = '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install the Debian package "chromium" (apt-get install chromium; .ci/run installs it)`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

const IDENTITIES = [
  { identity_type: 'service_account', identity_id: 'sa:reporting' },
  { identity_type: 'user', identity_id: 'usr_ops' },
  { identity_type: 'group', identity_id: 'grp_platform' },
  { identity_type: 'service_account', identity_id: 'sa:billing-sync' },
] as const;
const PATHS = ['integrations/salesforce/oauth', 'integrations/hubspot/key', 'prod/db/password', 'prod/stripe/api-key', 'pki/intermediate'];
const ACTIONS = ['read', 'read', 'list', 'read', 'write', 'read', 'rotate', 'read', 'pki_issue'];

/** `n` ScaiVault log entries, oldest first (one a minute up to `now`), varied but deterministic. */
export function vaultEntries(n: number, now: number, tag: string): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `log_${tag}_${String(i).padStart(3, '0')}`,
    timestamp: new Date(now - (n - i) * 60_000).toISOString(),
    action: ACTIONS[i % ACTIONS.length],
    ...IDENTITIES[(i * 7) % IDENTITIES.length],
    secret_path: PATHS[(i * 3) % PATHS.length],
    source_ip: `10.0.${i % 3}.${50 + (i % 7)}`,
    user_agent: i % 2 === 0 ? 'scaivault-python/1.0' : 'scaivault-go/2.3',
    success: i % 6 !== 5,
    duration_ms: 5 + ((i * 13) % 40),
    request_id: `req_${tag}_${i}`,
    extra_data: { attempt: 1 + (i % 2), client: { region: i % 2 === 0 ? 'eu-west-1' : 'us-east-1' } },
  }));
}

/** Ingests `entries` for the tenant and waits until /v1/audit/logs lists `total` events. */
export async function ingestReadable(topo: Topology, tenant: string, entries: unknown[], total = entries.length): Promise<void> {
  const write = await topo.token(tenant, 'audit:write');
  const res = await ingest(topo.ingestUrl(), write, 'audit-events', entries);
  if (res.status !== 202) throw new Error(`ingest → ${res.status} ${JSON.stringify(res.body)}`);
  const read = await topo.token(tenant, 'audit:read', { sub: 'usr_fixture' });
  await until(async () => (await getAllLogs(topo.apiUrl(), read)).length === total, 30_000, `${total} readable events`);
}
