// The /v1/audit/summary figures as one inline SVG drawn here (no library): the totals with a
// succeeded/failed bar, then horizontal bars for the actions, the top identities and the top paths.
// Every figure is also text in the SVG (and in its <desc>), so it reads without the bars.

const NS = 'http://www.w3.org/2000/svg';
const COLUMN = 300;
const ROW = 20;
const HEAD = 28;
const LABEL = 132;
const BAR = 118;
const SHOWN = 10;

function el(name, attrs = {}, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = String(text);
  return e;
}

function clip(s, n) {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

/** One column of labelled bars: [{key, count}], scaled to the largest. */
function bars(title, entries, x, kind) {
  const g = el('g', { transform: `translate(${x},0)`, 'data-group': kind });
  g.append(el('text', { x: 0, y: 16, class: 'chart-title' }, title));
  if (entries.length === 0) g.append(el('text', { x: 0, y: HEAD + 14, class: 'chart-empty' }, 'none in the window'));
  const max = Math.max(1, ...entries.map((e) => e.count));
  entries.slice(0, SHOWN).forEach((e, i) => {
    const y = HEAD + i * ROW;
    const row = el('g', { class: 'chart-row', 'data-key': e.key, 'data-count': e.count });
    row.append(el('title', {}, `${e.key}: ${e.count}`));
    row.append(el('text', { x: 0, y: y + 13, class: 'chart-label' }, clip(e.key, 19)));
    row.append(el('rect', { x: LABEL, y: y + 3, width: Math.max(2, (BAR * e.count) / max), height: ROW - 6, rx: 2, class: `bar bar-${kind}` }));
    row.append(el('text', { x: LABEL + BAR + 6, y: y + 13, class: 'chart-count' }, e.count.toLocaleString('en')));
    g.append(row);
  });
  return g;
}

function totals(s) {
  const g = el('g', { 'data-group': 'totals' });
  g.append(el('text', { x: 0, y: 16, class: 'chart-title' }, 'Events'));
  const figures = [
    ['total_events', 'total', s.total_events],
    ['successful_events', 'succeeded', s.successful_events],
    ['failed_events', 'failed', s.failed_events],
  ];
  figures.forEach(([field, label, n], i) => {
    const y = HEAD + 6 + i * 34;
    g.append(el('text', { x: 0, y: y + 18, class: `chart-figure figure-${field}`, 'data-figure': field }, n.toLocaleString('en')));
    g.append(el('text', { x: 120, y: y + 16, class: 'chart-label' }, label));
  });
  const y = HEAD + 6 + 3 * 34 + 4;
  const ok = s.total_events > 0 ? (240 * s.successful_events) / s.total_events : 0;
  g.append(el('rect', { x: 0, y, width: 240, height: 12, rx: 3, class: s.total_events > 0 ? 'bar bar-failed' : 'bar bar-empty' }));
  if (ok > 0) g.append(el('rect', { x: 0, y, width: ok, height: 12, rx: 3, class: 'bar bar-ok' }));
  return g;
}

/** The summary body → an <svg> element. */
export function summaryChart(s) {
  const actions = Object.entries(s.actions_breakdown).map(([key, count]) => ({ key, count }));
  const identities = s.top_identities.map((t) => ({ key: t.identity_id, count: t.count }));
  const paths = s.top_resources.map((t) => ({ key: t.path, count: t.count }));
  const rows = Math.max(0, ...[actions, identities, paths].map((l) => Math.min(SHOWN, l.length)));
  // At least the totals' height (three figures and the bar).
  const height = Math.max(160, HEAD + rows * ROW + 8);
  const svg = el('svg', { viewBox: `0 0 ${4 * COLUMN} ${height}`, width: '100%', role: 'img', 'aria-labelledby': 'chart-t chart-d', class: 'summary-svg' });
  svg.append(el('title', { id: 'chart-t' }, 'Audit summary'));
  const describe = (l) => l.map((e) => `${e.key} ${e.count}`).join(', ') || 'none';
  svg.append(el('desc', { id: 'chart-d' },
    `${s.total_events} events, ${s.successful_events} succeeded, ${s.failed_events} failed. `
    + `Actions: ${describe(actions)}. Top identities: ${describe(identities)}. Top paths: ${describe(paths)}.`));
  svg.append(totals(s));
  svg.append(bars('Actions', actions, COLUMN, 'actions'));
  svg.append(bars('Top identities', identities, 2 * COLUMN, 'identities'));
  svg.append(bars('Top paths', paths, 3 * COLUMN, 'paths'));
  return svg;
}
