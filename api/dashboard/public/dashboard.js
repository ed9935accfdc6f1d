// The auditflow dashboard: plain browser JavaScript (an ES module, no framework, no build step).
// Every data call carries the token: `Authorization: Bearer` for the JSON APIs, `?token=` for the
// EventSource (which cannot set headers). A 401 anywhere forgets the token and asks for another.
import { $, ApiError, cell, fieldValue, formParams, linkCell, shortTime, showError } from './dashboard-dom.js';
import { summaryChart } from './summary-chart.js';

const TOKEN_KEY = 'auditflow.token';
const TAIL_MAX = 200;
/** The documented ScaiVault actions, offered as suggestions (the field accepts any, comma-separated). */
const ACTIONS = ['read', 'write', 'delete', 'list', 'rotate', 'policy_create', 'policy_update', 'policy_delete', 'policy_bind',
  'policy_unbind', 'pki_issue', 'pki_sign', 'pki_revoke', 'pki_ca_create', 'dynamic_generate', 'dynamic_renew', 'dynamic_revoke',
  'webhook_delivery', 'subscription_event', 'federation_sync', 'identity_sync', 'export_created'];

// ---- token -----------------------------------------------------------------------------------

const token = () => sessionStorage.getItem(TOKEN_KEY);

/** `#token=…` → session storage, and out of the address bar (and so out of history and bookmarks). */
function takeFragmentToken() {
  const frag = new URLSearchParams(location.hash.slice(1));
  const t = frag.get('token');
  if (!t) return;
  sessionStorage.setItem(TOKEN_KEY, t);
  frag.delete('token');
  const rest = frag.toString();
  history.replaceState(null, '', `${location.pathname}${location.search}${rest ? `#${rest}` : ''}`);
}

/** The token's claims, for display only (the server verifies it). */
function claims(t) {
  try {
    const part = t.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '=')));
  } catch {
    return null;
  }
}

function showWhoami(t) {
  const c = claims(t);
  const text = c
    ? `tenant ${c.tid ?? '?'} · ${c.sub ?? '?'} · ${c.scope ?? 'no scopes'}${c.exp ? ` · expires ${new Date(c.exp * 1000).toISOString()}` : ''}`
    : 'token set (not a readable JWT)';
  $('whoami').textContent = text;
}

function signIn() {
  const t = token();
  if (!t) return signOut(null);
  $('token-panel').hidden = true;
  $('app').hidden = false;
  $('forget-token').hidden = false;
  showWhoami(t);
  startTail();
  void runSearch(formParams($('search-form')));
  void loadSummary();
}

/** Back to the token box, with the reason when there is one (a refused token). */
function signOut(err) {
  stopTail();
  sessionStorage.removeItem(TOKEN_KEY);
  $('app').hidden = true;
  $('forget-token').hidden = true;
  $('whoami').textContent = '';
  if ($('detail').open) $('detail').close();
  $('token-panel').hidden = false;
  showError($('token-error'), err);
  $('token-input').focus();
}

// ---- API calls and errors --------------------------------------------------------------------

/** A read API's 401 for the token in use signs out; one for a token already dropped changes nothing (the first refusal stays shown). */
function refused(sent, err) {
  if (sent === token()) signOut(err);
}

async function api(path, params = {}) {
  const qs = new URLSearchParams(params).toString();
  const sent = token();
  let res;
  try {
    res = await fetch(`${path}${qs ? `?${qs}` : ''}`, { headers: { authorization: `Bearer ${sent}`, accept: 'application/json' } });
  } catch (e) {
    throw new ApiError(0, { error: `the API did not answer (${e.message})`, code: 'NETWORK' });
  }
  const body = await res.json().catch(() => null);
  if (res.ok) return body;
  const err = new ApiError(res.status, body);
  if (res.status === 401) refused(sent, err);
  throw err;
}

/** Runs `fn`, showing what it throws in `box` (a 401 has already sent the user to the token box). */
async function guarded(box, fn) {
  try {
    await fn();
    showError(box, null);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return;
    showError(box, e instanceof ApiError ? e : new ApiError(0, { error: String(e?.message ?? e), code: 'CLIENT' }));
  }
}

// ---- search with cursor paging ---------------------------------------------------------------

/** The filters searched, the page shown (its cursor) and the cursors of the pages before it. */
const search = { params: {}, cursor: null, back: [], next: null };

async function runSearch(params) {
  search.params = params;
  await loadPage(null, []);
}

let searchSeq = 0;

async function loadPage(cursor, back) {
  const mine = ++searchSeq;
  await guarded($('search-error'), async () => {
    const body = await api('/v1/audit/logs', { ...search.params, ...(cursor ? { cursor } : {}) });
    if (mine !== searchSeq) return; // a later search or page was asked for meanwhile
    Object.assign(search, { cursor, back, next: body.has_more ? body.cursor : null });
    renderResults(body.logs);
  });
}

function renderResults(logs) {
  const rows = logs.map((log) => {
    const tr = document.createElement('tr');
    tr.className = 'clickable';
    tr.dataset.id = log.id;
    cell(tr, shortTime(log.timestamp), 'mono');
    cell(tr, log.action);
    const who = cell(tr, log.identity_id);
    if (log.identity_type) who.title = `${log.identity_id} (${log.identity_type})`;
    cell(tr, log.secret_path, 'mono');
    cell(tr, log.success ? 'ok' : 'failed', log.success ? 'ok' : 'failed');
    linkCell(tr, log.id);
    tr.addEventListener('click', () => showDetail(log.id, log, 'extra_data'));
    return tr;
  });
  $('results').tBodies[0].replaceChildren(...rows);
  const page = search.back.length + 1;
  $('results-status').textContent = `Page ${page} · ${logs.length} ${logs.length === 1 ? 'entry' : 'entries'}${search.next ? ' · more' : ''}`;
  $('prev-page').disabled = search.back.length === 0;
  $('next-page').disabled = search.next === null;
}

// ---- detail ----------------------------------------------------------------------------------

/** Every field of `entry` (the JSON one pretty-printed below them), in a modal dialog. */
function showDetail(id, entry, jsonKey, err = null) {
  $('detail-title').textContent = `Event ${id}`;
  showError($('detail-error'), err);
  const dl = $('detail-fields');
  dl.replaceChildren();
  for (const [k, v] of Object.entries(entry)) {
    if (k === jsonKey) continue;
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = fieldValue(v);
    dd.dataset.field = k;
    dl.append(dt, dd);
  }
  $('detail-json-title').textContent = jsonKey;
  $('detail-json').textContent = JSON.stringify(entry[jsonKey] ?? {}, null, 2);
  if (!$('detail').open) $('detail').showModal();
}

/** A tail event: its frame at once, then the stored event in full (the admin API has every field). */
async function showTailDetail(id, frame) {
  showDetail(id, frame, 'data');
  try {
    const full = await api(`/api/v1/admin/audit/${encodeURIComponent(id)}`);
    if ($('detail').open && $('detail-title').textContent === `Event ${id}`) showDetail(id, full, 'details');
  } catch (e) {
    if (e.status !== 401 && $('detail').open) showError($('detail-error'), e);
  }
}

// ---- summary ---------------------------------------------------------------------------------

async function loadSummary() {
  await guarded($('summary-error'), async () => {
    const body = await api('/v1/audit/summary', formParams($('summary-form')));
    $('summary-chart').replaceChildren(summaryChart(body));
  });
}

let summaryTimer = null;
/** New events change the figures: refresh once things settle (not once per event). */
function summarySoon() {
  clearTimeout(summaryTimer);
  summaryTimer = setTimeout(() => void loadSummary(), 1500);
}

// ---- live tail over SSE ----------------------------------------------------------------------

let source = null;
let hiddenCount = 0;

/**
 * Reads of the audit log: every read through the APIs is itself recorded (api/self-audit.ts), its
 * event_type the frame's `action`: `audit.read` (the read APIs), `admin.audit.<endpoint>` (the
 * admin API), `audit.stream` (this very stream). This page's own reads would otherwise fill its tail.
 */
const AUDIT_READ = /^(audit\.read|audit\.stream|admin\.audit\.)/;

function isAuditRead(msg) {
  return msg.type === 'internal_audit_log_created' && AUDIT_READ.test(String(msg.data?.action ?? ''));
}

function tailStatus(text, state) {
  $('tail-status').textContent = text;
  $('tail-status').dataset.state = state;
  $('tail-reconnect').hidden = state !== 'closed';
}

function startTail() {
  stopTail();
  const es = new EventSource(`/api/events?token=${encodeURIComponent(token())}`);
  source = es;
  tailStatus('connecting…', 'connecting');
  es.onopen = () => tailStatus('live', 'live');
  es.onmessage = (ev) => {
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      return;
    }
    // The stream's first message says where it stands (`resumed`: after a Last-Event-ID).
    if (msg.type === 'connected') return tailStatus(msg.data?.resumed ? 'live (resumed)' : 'live', 'live');
    addTailRow(msg);
    if (msg.type === 'audit_log_created') summarySoon();
  };
  // The browser reconnects by itself (sending Last-Event-ID); CLOSED means it gave up, e.g. a
  // 401 or a 404: ask the endpoint why, since EventSource does not say.
  es.onerror = () => {
    if (es !== source) return;
    if (es.readyState !== EventSource.CLOSED) return tailStatus('reconnecting…', 'connecting');
    tailStatus('disconnected', 'closed');
    void probeTail();
  };
}

function stopTail() {
  source?.close();
  source = null;
}

async function probeTail() {
  const abort = new AbortController();
  const sent = token();
  try {
    const res = await fetch('/api/events', { headers: { authorization: `Bearer ${sent}` }, signal: abort.signal });
    if (res.ok) return;
    const err = new ApiError(res.status, await res.json().catch(() => null));
    // The stream answers 401 to a valid token without audit:admin too (its document's one body),
    // so this is not a reason to sign out: the read APIs' own 401 is.
    const exp = claims(sent ?? '')?.exp;
    if (res.status === 401 && typeof exp === 'number' && exp * 1000 <= Date.now()) return refused(sent, new ApiError(401, { error: 'the token has expired', code: 'AUTH_INVALID' }));
    const why = res.status === 401 ? ' — the live tail needs a token with the audit:admin scope' : '';
    if (sent === token()) tailStatus(`disconnected: ${err.code ?? `HTTP ${err.status}`} (${err.message})${why}`, 'closed');
  } catch {
    // No answer at all: the status already says disconnected.
  } finally {
    abort.abort();
  }
}

function addTailRow(msg) {
  const d = msg.data ?? {};
  const internal = msg.type === 'internal_audit_log_created';
  const id = internal ? d.internalAuditLogId : d.auditLogId;
  const tr = document.createElement('tr');
  tr.className = 'clickable';
  tr.dataset.type = msg.type;
  if (id !== undefined) tr.dataset.id = String(id);
  cell(tr, msg.type === 'audit_log_created' ? 'audit' : internal ? 'internal' : msg.type);
  if (id === undefined) cell(tr, null);
  else linkCell(tr, String(id));
  const what = internal
    ? `${d.action ?? '?'}${d.resourceId ? ` ${d.resourceId}` : ''} by ${d.dashboardUserId ?? '?'}`
    : msg.type === 'audit_log_created'
      ? `${shortTime(d.timestamp).slice(11)} · ${d.requestId ?? 'no request id'}${d.provider ? ` · ${d.provider}` : ''}${d.model ? `/${d.model}` : ''}`
      : JSON.stringify(d);
  cell(tr, what);
  cell(tr, [d.decision, internal ? d.outcomeStatus : null].filter(Boolean).join(' · ') || null);
  if (isAuditRead(msg)) {
    tr.classList.add('own-read');
    tr.hidden = !$('show-own-reads').checked;
    hiddenCount += 1;
  }
  tr.addEventListener('click', () => (id === undefined ? showDetail(msg.type, d, 'data') : showTailDetail(String(id), { type: msg.type, data: d })));
  const body = $('tail').tBodies[0];
  body.prepend(tr);
  while (body.rows.length > TAIL_MAX) {
    if (body.lastElementChild.classList.contains('own-read')) hiddenCount -= 1;
    body.lastElementChild.remove();
  }
  showHiddenCount();
}

function showHiddenCount() {
  const shown = $('show-own-reads').checked;
  $('tail-hidden').textContent = !shown && hiddenCount > 0 ? `${hiddenCount} read${hiddenCount === 1 ? '' : 's'} of the audit log hidden` : '';
}

// ---- wiring ----------------------------------------------------------------------------------

function wire() {
  const list = $('actions');
  for (const a of ACTIONS) list.append(new Option(a));
  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const t = $('token-input').value.trim().replace(/^Bearer\s+/i, '');
    if (!t) return;
    sessionStorage.setItem(TOKEN_KEY, t);
    $('token-input').value = '';
    showError($('token-error'), null);
    signIn();
  });
  $('forget-token').addEventListener('click', () => signOut(null));
  $('search-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void runSearch(formParams(e.currentTarget));
  });
  // After the browser has reset the fields: search again with none.
  $('search-form').addEventListener('reset', (e) => setTimeout(() => void runSearch(formParams(e.target)), 0));
  $('next-page').addEventListener('click', () => void loadPage(search.next, [...search.back, search.cursor]));
  $('prev-page').addEventListener('click', () => void loadPage(search.back.at(-1) ?? null, search.back.slice(0, -1)));
  $('summary-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void loadSummary();
  });
  $('detail-close').addEventListener('click', () => $('detail').close());
  $('show-own-reads').addEventListener('change', () => {
    for (const tr of $('tail').querySelectorAll('tr.own-read')) tr.hidden = !$('show-own-reads').checked;
    showHiddenCount();
  });
  $('tail-clear').addEventListener('click', () => {
    $('tail').tBodies[0].replaceChildren();
    hiddenCount = 0;
    showHiddenCount();
  });
  $('tail-reconnect').addEventListener('click', () => startTail());
  window.addEventListener('hashchange', () => {
    if (!new URLSearchParams(location.hash.slice(1)).has('token')) return;
    takeFragmentToken();
    signIn();
  });
}

wire();
takeFragmentToken();
signIn();
