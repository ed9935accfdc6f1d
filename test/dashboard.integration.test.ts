// The dashboard in a real browser (Debian Chromium via playwright-core) against the embedded
// system: the page and its assets as served, the token taken from the URL fragment, search with
// filters, cursor paging forward and back, an event's detail, the summary chart, readable errors,
// a refused token sent back to the token box, and the live tail over SSE.
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { DASHBOARD_ASSETS, DASHBOARD_CSP } from '../api/dashboard/dashboard-routes.ts';
import { ingestReadable, launchChromium, vaultEntries } from './support/dashboard-support.ts';
import { startEmbedded, type Topology } from './support/topologies.ts';

const N = 23;
let topo: Topology;
let browser: Browser;
let page: Page;
const tenant = `tnt_dash_${randomBytes(4).toString('hex')}`;
const entries = vaultEntries(N, Date.now(), randomBytes(3).toString('hex'));
const newestFirst = [...entries].reverse();
const ids = (list: Record<string, unknown>[]) => list.map((e) => e['id'] as string);
/** What the page logged that would mean our CSP blocked our own files, or a script failed. */
const problems: string[] = [];

beforeAll(async () => {
  browser = await launchChromium();
  topo = await startEmbedded();
  await ingestReadable(topo, tenant, entries);
});
afterAll(async () => {
  await browser?.close();
  await topo?.stop();
});

async function openDashboard(token: string): Promise<Page> {
  const p = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  p.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  p.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) problems.push(`csp: ${m.text()}`); });
  await p.goto(`${topo.apiUrl()}/#token=${token}`);
  return p;
}

const resultIds = (p: Page) => p.$$eval('#results tbody tr', (trs) => trs.map((t) => (t as HTMLElement).dataset['id']));
const status = (p: Page) => p.textContent('#results-status');

describe('the page as served', () => {
  test('GET / and the assets: content types, CSP, caching with ETag, no token needed; unknown asset 404 in the catalogue body', async () => {
    const url = topo.apiUrl();
    // Every file in public/ is served (a module left out of the list would break the page).
    expect(readdirSync(new URL('../api/dashboard/public/', import.meta.url)).sort()).toEqual(['index.html', ...DASHBOARD_ASSETS].sort());
    const served = [['/', 'text/html'], ...DASHBOARD_ASSETS.map((a) => [`/dashboard/${a}`, a.endsWith('.css') ? 'text/css' : 'text/javascript'])];
    for (const [path, type] of served) {
      const res = await fetch(`${url}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toBe(`${type}; charset=utf-8`);
      expect(res.headers.get('content-security-policy'), path).toBe(DASHBOARD_CSP);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('cache-control')).toBe('no-cache');
      const etag = res.headers.get('etag');
      expect(etag).toMatch(/^"[\w-]+"$/);
      expect((await fetch(`${url}${path}`, { headers: { 'if-none-match': etag! } })).status, path).toBe(304);
    }
    expect(DASHBOARD_CSP).toContain("script-src 'self'");
    expect(DASHBOARD_CSP).not.toContain('unsafe-inline');
    const html = await (await fetch(`${url}/`)).text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script: the CSP would refuse it
    // Only the named assets: an encoded path (decoded into the parameter) reaches no other file.
    expect((await fetch(`${url}/dashboard/..%2Fpackage.json`)).status).toBe(404);
    const other = await fetch(`${url}/dashboard/app.ts`);
    expect(other.status).toBe(404);
    expect(await other.json()).toEqual({ error: 'no dashboard asset app.ts', code: 'NOT_FOUND' });
    const doc = await (await fetch(`${url}/openapi.json`)).json();
    expect(doc.paths['/'].get).toMatchObject({ tags: ['dashboard'], security: [] });
    expect(Object.keys(doc.paths['/dashboard/{file}'].get.responses['200'].content)).toEqual(['text/javascript', 'text/css']);
  });
});

describe('the dashboard in Chromium', () => {
  beforeAll(async () => {
    page = await openDashboard(await topo.token(tenant, 'audit:read audit:admin', { sub: 'usr_dashboard' }));
    await page.locator('#app').waitFor({ state: 'visible' });
  });

  test('takes the token from the fragment, keeps it in sessionStorage and removes it from the address bar', async () => {
    expect(new URL(page.url()).hash).toBe('');
    expect(await page.evaluate(() => sessionStorage.getItem('auditflow.token'))).toMatch(/^ey/);
    expect(await page.textContent('#whoami')).toContain(`tenant ${tenant} · usr_dashboard · audit:read audit:admin`);
    await expect.poll(() => resultIds(page)).toEqual(ids(newestFirst));
  });

  test('the summary chart shows the totals, the actions breakdown and the top identities and paths', async () => {
    const count = (pick: (e: Record<string, unknown>) => string) => {
      const m = new Map<string, number>();
      for (const e of entries) m.set(pick(e), (m.get(pick(e)) ?? 0) + 1);
      return Object.fromEntries(m);
    };
    const failed = entries.filter((e) => e['success'] === false).length;
    expect(failed).toBeGreaterThan(0);
    await page.locator('#summary-chart svg').waitFor();
    const figure = (f: string) => page.textContent(`#summary-chart [data-figure="${f}"]`);
    expect([await figure('total_events'), await figure('successful_events'), await figure('failed_events')]).toEqual([`${N}`, `${N - failed}`, `${failed}`]);
    const bars = (group: string) => page.$$eval(`#summary-chart [data-group="${group}"] .chart-row`,
      (rows) => Object.fromEntries(rows.map((r) => [r.getAttribute('data-key'), Number(r.getAttribute('data-count'))])));
    expect(await bars('actions')).toEqual(count((e) => e['action'] as string));
    expect(await bars('identities')).toEqual(count((e) => e['identity_id'] as string));
    expect(await bars('paths')).toEqual(count((e) => e['secret_path'] as string));
    // Drawn, not only labelled: the longest actions bar belongs to the most frequent action.
    const widths = await page.$$eval('#summary-chart [data-group="actions"] .chart-row rect', (rs) => rs.map((r) => Number(r.getAttribute('width'))));
    expect(widths[0]).toBe(Math.max(...widths));
    expect(await page.textContent('#summary-chart desc')).toContain(`${N} events, ${N - failed} succeeded, ${failed} failed`);
  });

  test('search by filters lists exactly the matching rows, newest first', async () => {
    const form = page.locator('#search-form');
    await form.locator('[name=identity_id]').fill('sa:reporting');
    await form.locator('[name=identity_type]').selectOption('service_account');
    await form.getByRole('button', { name: 'Search' }).click();
    const reporting = newestFirst.filter((e) => e['identity_id'] === 'sa:reporting');
    expect(reporting.length).toBeGreaterThan(1);
    await expect.poll(() => resultIds(page)).toEqual(ids(reporting));
    await form.locator('[name=identity_id]').fill('');
    await form.locator('[name=identity_type]').selectOption('');
    await form.locator('[name=success]').selectOption('false');
    await form.locator('[name=path_prefix]').fill('prod/');
    await form.getByRole('button', { name: 'Search' }).click();
    const failedProd = newestFirst.filter((e) => e['success'] === false && (e['secret_path'] as string).startsWith('prod/'));
    await expect.poll(() => resultIds(page)).toEqual(ids(failedProd));
    expect(await page.locator('#results tbody td.failed').count()).toBe(failedProd.length);
    await form.getByRole('button', { name: 'Clear' }).click();
    await expect.poll(() => resultIds(page)).toEqual(ids(newestFirst));
  });

  test('pages forward with the cursor and back through the kept stack', async () => {
    await page.locator('#search-form [name=limit]').selectOption('10');
    await page.locator('#search-form').getByRole('button', { name: 'Search' }).click();
    const pageOf = (i: number) => ids(newestFirst.slice(i * 10, i * 10 + 10));
    await expect.poll(() => resultIds(page)).toEqual(pageOf(0));
    expect(await page.isDisabled('#prev-page')).toBe(true);
    await page.click('#next-page');
    await expect.poll(() => resultIds(page)).toEqual(pageOf(1));
    await page.click('#next-page');
    await expect.poll(() => resultIds(page)).toEqual(pageOf(2));
    expect(await status(page)).toBe(`Page 3 · ${N - 20} entries`);
    expect(await page.isDisabled('#next-page')).toBe(true);
    await page.click('#prev-page');
    await expect.poll(() => resultIds(page)).toEqual(pageOf(1));
    expect(await status(page)).toBe('Page 2 · 10 entries · more');
    await page.click('#prev-page');
    await expect.poll(() => resultIds(page)).toEqual(pageOf(0));
    expect(await page.isDisabled('#prev-page')).toBe(true);
  });

  test("a row's detail shows every field of the event, its extra_data pretty-printed", async () => {
    const e = newestFirst[3]!;
    await page.click(`#results tbody tr[data-id="${e['id'] as string}"] td:nth-child(2)`);
    const dialog = page.locator('#detail');
    await dialog.waitFor({ state: 'visible' });
    expect(await page.textContent('#detail-title')).toBe(`Event ${e['id'] as string}`);
    const fields = await page.$$eval('#detail-fields dd', (dds) => Object.fromEntries(dds.map((d) => [(d as HTMLElement).dataset['field'], d.textContent])));
    const { extra_data: extra, ...rest } = e;
    expect(fields).toEqual(Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, String(v)])));
    expect(await page.textContent('#detail-json-title')).toBe('extra_data');
    expect(await page.textContent('#detail-json')).toBe(JSON.stringify(extra, null, 2));
    await dialog.getByRole('button', { name: 'Close the detail' }).click();
    await dialog.waitFor({ state: 'hidden' });
  });

  test("the API's errors are shown readably: code, status, message and details", async () => {
    const form = page.locator('#search-form');
    await form.locator('[name=from]').fill('yesterday');
    await form.getByRole('button', { name: 'Search' }).click();
    const box = page.locator('#search-error');
    await box.waitFor({ state: 'visible' });
    const text = await box.textContent();
    expect(text).toContain('QUERY_INVALID (HTTP 400)');
    expect(text).toMatch(/from: .+/);
    await form.locator('[name=from]').fill('');
    await form.getByRole('button', { name: 'Search' }).click();
    await box.waitFor({ state: 'hidden' });
  });

  test('the live tail shows an event ingested after the page opened, hides the reads of the audit log until asked, and the summary follows', async () => {
    await expect.poll(() => page.textContent('#tail-status')).toBe('live');
    const late: Record<string, unknown> = {
      ...vaultEntries(1, Date.now(), `late${randomBytes(3).toString('hex')}`)[0], success: false, extra_data: { provider: 'openai', model: 'gpt-4' },
    };
    await ingestReadable(topo, tenant, [late], N + 1);
    const row = page.locator(`#tail tbody tr[data-id="${late['id'] as string}"]`);
    await row.waitFor({ state: 'visible' });
    expect(await row.getAttribute('data-type')).toBe('audit_log_created');
    expect(await row.locator('td').allTextContents()).toEqual([
      'audit', late['id'], expect.stringContaining(`${late['request_id'] as string} · openai/gpt-4`), 'deny',
    ]);
    // The page's own searches and summaries were recorded and streamed as internal events: hidden
    // by default, counted, shown with the toggle.
    const ownReads = page.locator('#tail tbody tr.own-read');
    await expect.poll(() => ownReads.count()).toBeGreaterThan(0);
    expect(await page.locator('#tail tbody tr.own-read:not([hidden])').count()).toBe(0);
    expect(await page.textContent('#tail-hidden')).toMatch(/^\d+ reads? of the audit log hidden$/);
    const actions = await ownReads.evaluateAll((trs) => trs.map((t) => t.children[2]!.textContent!));
    expect(actions.some((a) => a.startsWith('audit.read scaivault.logs by usr_dashboard'))).toBe(true);
    await page.getByLabel("Show the dashboard's own reads").check();
    // Counted in one evaluation: a read streamed in between the two counts must not make them differ.
    const shownAndAll = () => page.evaluate(() => [document.querySelectorAll('#tail tbody tr.own-read:not([hidden])').length, document.querySelectorAll('#tail tbody tr.own-read').length]);
    const [shown, all] = await shownAndAll();
    expect(shown).toBe(all);
    expect(await page.textContent('#tail-hidden')).toBe('');
    await page.getByLabel("Show the dashboard's own reads").uncheck();
    // Its detail is the stored event in full (the admin API), not only the frame's fields.
    await row.click();
    await expect.poll(() => page.locator('#detail-fields dd[data-field="resource_path"]').textContent().catch(() => null)).toBe(late['secret_path']);
    expect(await page.textContent('#detail-fields dd[data-field="is_internal"]')).toBe('false');
    expect(await page.textContent('#detail-json-title')).toBe('details');
    expect(JSON.parse((await page.textContent('#detail-json'))!)).toEqual({ provider: 'openai', model: 'gpt-4' });
    await page.getByRole('button', { name: 'Close the detail' }).click();
    // A new event refreshes the summary (debounced).
    await expect.poll(() => page.textContent('#summary-chart [data-figure="total_events"]'), { timeout: 10_000 }).toBe(`${N + 1}`);
  });

  test('a refused token sends the user back to the token box; a pasted good one signs in', async () => {
    const p = await openDashboard('not-a-jwt');
    await p.locator('#token-panel').waitFor({ state: 'visible' });
    expect(await p.isHidden('#app')).toBe(true);
    expect(await p.textContent('#token-error')).toMatch(/^AUTH_INVALID \(HTTP 401\): .+/);
    expect(await p.evaluate(() => sessionStorage.getItem('auditflow.token'))).toBeNull();
    await p.getByLabel('Bearer token').fill(await topo.token(tenant, 'audit:read', { sub: 'usr_pasted' }));
    await p.getByRole('button', { name: 'Use token' }).click();
    await p.locator('#app').waitFor({ state: 'visible' });
    await expect.poll(() => resultIds(p)).toHaveLength(N + 1); // with the live tail's late event
    expect(await p.isHidden('#token-error')).toBe(true);
    // Without audit:admin the stream refuses it (401, its documented body): said in the tail, not a sign-out.
    await expect.poll(() => p.textContent('#tail-status')).toBe(
      'disconnected: ADMIN_AUTH_REQUIRED (Admin authentication required) — the live tail needs a token with the audit:admin scope');
    expect(await p.isVisible('#app')).toBe(true);
    expect(await p.isVisible('#tail-reconnect')).toBe(true);
    await p.close();
  });

  test('no script error and nothing of ours refused by the Content-Security-Policy', () => {
    expect(problems).toEqual([]);
  });
});
