// Preloaded into the auditflow child by bench:realtime (NODE_OPTIONS="--require <this file>"):
// notes when each store insert is acknowledged — the moment its rows are readable — without
// touching the product. It wraps chDB's Session.prototype.insert (the ESM entry the store imports
// re-exports this same CommonJS module, so the store's sessions get the wrapper) and appends one
// line per insert to BENCH_RT_READABLE_FILE: table, the batch's received_at (the sink's stamp,
// read from the first row of the payload: the key that names the batch in the store), and wall
// times (ms since the epoch, performance.timeOrigin + now()) of the call and of the answer as the
// main thread sees it, plus the engine's own elapsed. The answer's callback is registered before
// the sink's await, so it runs first: what it records is when the sink learns the rows are
// readable, right before it publishes them. Without the variable it does nothing.
'use strict';
const fs = require('node:fs');

const file = process.env.BENCH_RT_READABLE_FILE;
if (file) {
  const { Session } = require('chdb');
  const insert = Session.prototype.insert;
  const wall = () => performance.timeOrigin + performance.now();
  const KEY = '"received_at":"';
  Session.prototype.insert = function probedInsert(opts) {
    const start = wall();
    const p = insert.call(this, opts);
    const v = opts && opts.values;
    let stamp = '';
    if (Buffer.isBuffer(v)) {
      const i = v.indexOf(KEY);
      if (i >= 0 && i < 4096) stamp = v.toString('latin1', i + KEY.length, v.indexOf(0x22, i + KEY.length));
    }
    p.then((r) => {
      const acked = wall();
      fs.appendFileSync(file, `${JSON.stringify({ table: opts.table, stamp, start, acked, elapsed: r && typeof r.elapsed === 'number' ? r.elapsed : null })}\n`);
    }, () => undefined);
    return p;
  };
}
