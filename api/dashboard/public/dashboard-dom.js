// The dashboard's small DOM helpers: the API's error bodies as errors and as readable messages,
// form values as query parameters, table cells.

export const $ = (id) => document.getElementById(id);

/** A catalogue error body `{error, code, details?}` (infra/errors.ts) with its HTTP status. */
export class ApiError extends Error {
  constructor(status, body) {
    const b = body && typeof body === 'object' ? body : {};
    super(typeof b.error === 'string' ? b.error : `HTTP ${status}`);
    this.status = status;
    this.code = typeof b.code === 'string' ? b.code : null;
    this.details = Array.isArray(b.details) ? b.details : [];
  }
}

/** A catalogue error body `{error, code, details?}` as a readable message (or hides the box). */
export function showError(box, err) {
  box.replaceChildren();
  box.hidden = !err;
  if (!err) return;
  const head = document.createElement('strong');
  head.textContent = err.code ? `${err.code}${err.status ? ` (HTTP ${err.status})` : ''}` : 'Error';
  box.append(head, document.createTextNode(`: ${err.message}`));
  if (err.details?.length) {
    const ul = document.createElement('ul');
    for (const d of err.details) {
      const li = document.createElement('li');
      li.textContent = `${d.path ?? ''}${d.path ? ': ' : ''}${d.message ?? JSON.stringify(d)}`;
      ul.append(li);
    }
    box.append(ul);
  }
}

/** The non-empty fields of a form, trimmed: the query parameters of a request. */
export function formParams(form) {
  const out = {};
  for (const [k, v] of new FormData(form)) {
    const s = String(v).trim();
    if (s !== '') out[k] = s;
  }
  return out;
}

/** Appends a text cell (— for none). */
export function cell(tr, text, cls) {
  const td = document.createElement('td');
  td.textContent = text ?? '—';
  if (text) td.title = text; // cells are cut with an ellipsis: the whole value on hover
  if (cls) td.className = cls;
  tr.append(td);
  return td;
}

/** `2026-04-23T10:16:00.123Z` → `2026-04-23 10:16:00` (the detail has the exact value). */
export const shortTime = (iso) => (typeof iso === 'string' ? iso.replace('T', ' ').replace(/(\.\d+)?Z?$/, '') : '—');

/** A cell holding the row's id as a button (the keyboard's way into the row's detail; the click bubbles to the row). */
export function linkCell(tr, id) {
  const td = cell(tr, '', 'mono');
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'link';
  b.textContent = id;
  b.setAttribute('aria-label', `Detail of ${id}`);
  td.append(b);
  return td;
}

/** A field of an event as one line of text. */
export function fieldValue(v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
