// docs/dashboard.png: the dashboard running on the embedded system with a tenant's worth of
// events, at 1280×800, in Debian's Chromium. Run: node --import tsx test/support/dashboard-screenshot.ts
import { mkdirSync } from 'node:fs';
import { ingestReadable, launchChromium, vaultEntries } from './dashboard-support.ts';
import { startEmbedded, until } from './topologies.ts';

const out = new URL('../../docs/dashboard.png', import.meta.url);
const topo = await startEmbedded();
const browser = await launchChromium();
try {
  const tenant = 'default';
  const now = Date.now();
  const history = vaultEntries(64, now - 5 * 60_000, 'demo');
  await ingestReadable(topo, tenant, history);
  const token = await topo.token(tenant, 'audit:read audit:write audit:admin', { sub: 'usr_admin' });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`${topo.apiUrl()}/#token=${token}`);
  await page.locator('#summary-chart svg').waitFor();
  await page.locator('#results tbody tr').first().waitFor();
  // A few events after the page opened, for the live tail (when the SSE endpoint is there).
  const live = vaultEntries(6, now, 'live');
  await ingestReadable(topo, tenant, live, history.length + live.length);
  if ((await page.textContent('#tail-status')) === 'live') {
    await until(async () => (await page.locator('#tail tbody tr:not([hidden])').count()) >= live.length, 15_000, 'the live tail');
  }
  await page.waitForTimeout(2000); // the summary's debounced refresh after the live events
  mkdirSync(new URL('.', out), { recursive: true });
  await page.screenshot({ path: out.pathname });
  console.log(`wrote ${out.pathname}`);
} finally {
  await browser.close();
  await topo.stop();
}
