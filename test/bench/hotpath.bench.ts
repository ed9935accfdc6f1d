// npm run bench:hotpath — the embedded pipeline's JavaScript cost per event, without HTTP and
// without the engine: ingestBatch (parse, validate, normalise, encode, durable log append) and
// the store sink (read, dedupe, sequence, build rows) into a store that only counts bytes.
// CPU is the whole process (every thread: GC and the libuv pool included), so the figure is what
// the pipeline's JavaScript costs the machine per event. Printed beside JSON.parse of the same
// events (the reference the ingest cannot beat) and the ratio.
//
// Settings (environment): HOT_EVENTS (200000), HOT_CONCURRENCY (4 requests in flight), HOT_PROFILE=1
// (write a .cpuprofile of the measured window to the working directory), HOT_STAGES (all | log:
// ingest and the durable log, no sink | ingest: parse to encode, the log append replaced by nothing).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import { parseConfig } from '../../infra/config.ts';
import { EmbeddedLog, EmbeddedLogConsumer, EmbeddedLogProducer } from '../../infra/log/embedded-log.ts';
import type { Store } from '../../infra/store/store.ts';
import { ingestBatch } from '../../ingest/ingest-batch.ts';
import { StoreSink } from '../../processors/store-sink.ts';
import { jsonCodec } from '../../schemas/message-codec.ts';
import { buildRequests, generateEvents } from './events.ts';

const EVENTS = Number(process.env['HOT_EVENTS'] ?? 200_000);
const CONCURRENCY = Number(process.env['HOT_CONCURRENCY'] ?? 4);
const tenants = Array.from({ length: 8 }, (_, i) => `tnt_hot_${i}`);
const opts = { events: EVENTS, tenants, batch: 1000, runTag: `h${Date.now().toString(36)}` };
const events = generateEvents(opts);
const requests = buildRequests(events, opts, 'ndjson');

// Reference: JSON.parse of every event, one core.
const t0 = process.cpuUsage();
for (const e of events) JSON.parse(e.json);
const parseUs = (process.cpuUsage(t0).user + process.cpuUsage(t0).system) / events.length;

const dir = mkdtempSync(path.join(os.tmpdir(), 'af-hot-'));
const config = parseConfig({ AUDITFLOW_MODE: 'embedded', DATA_DIR: dir }, 'all');
const log = new EmbeddedLog({ dir: path.join(dir, 'log'), partitions: 1, segmentBytes: config.embeddedLog.segmentBytes, ...(process.env['HOT_TAIL_BYTES'] ? { tailBytes: Number(process.env['HOT_TAIL_BYTES']) } : {}) });
const producer = new EmbeddedLogProducer(log);
let storedBytes = 0;
const store: Store = {
  kind: 'chdb',
  async command() {},
  async query() { return []; },
  async insertJsonEachRow(_t, rows) {
    storedBytes += rows.length;
  },
  async *stream() { /* the hot path never streams */ },
  async close() {},
};
const topics = config.kafka.topics;
const consumer = new EmbeddedLogConsumer(log, { group: 'hot', topics: [topics.auditEvents, topics.changes] });
const quiet = { info() {}, warn() {}, error() {} };
const sink = new StoreSink({
  store, producer, codec: jsonCodec(), commit: (t, p, o) => consumer.commit(t, p, o),
  topics: [{ topic: topics.auditEvents, kind: 'audit', table: 'audit_events' }, { topic: topics.changes, kind: 'change', table: 'change_log' }],
  deadLetterTopic: topics.deadLetters, batch: config.sink, logger: quiet,
});
const stages = process.env['HOT_STAGES'] ?? 'all';
if (stages === 'all') await consumer.run(sink);
/** Every event inserted, as the sink counts them (polled: the store here only counts bytes). */
const allStored = async (): Promise<void> => {
  while (stages === 'all' && sink.stats.inserted < EVENTS) await new Promise((r) => setTimeout(r, 2));
};
const nullProducer = { ...producer, send: async () => undefined } as unknown as EmbeddedLogProducer;

const profiler = process.env['HOT_PROFILE'] === '1' ? new Session() : null;
if (profiler) {
  profiler.connect();
  await profiler.post('Profiler.enable');
  await profiler.post('Profiler.start');
}
const cpu0 = process.cpuUsage();
const wall0 = performance.now();
let next = 0;
const deps = { config, producer: stages === 'ingest' ? nullProducer : producer, codec: jsonCodec() };
await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
  while (next < requests.length) {
    const r = requests[next++]!;
    await ingestBatch(deps, { kind: 'audit', principal: { tenantId: r.tenant }, contentType: 'application/x-ndjson', contentEncoding: undefined, raw: r.body });
  }
}));
const ingestMs = performance.now() - wall0;
await allStored();
const wallMs = performance.now() - wall0;
const cpu = process.cpuUsage(cpu0);
if (profiler) {
  const { profile } = await profiler.post('Profiler.stop');
  writeFileSync(`hotpath-${Date.now()}.cpuprofile`, JSON.stringify(profile));
}
await consumer.stop();
log.close();
rmSync(dir, { recursive: true, force: true });

const usPerEvent = (cpu.user + cpu.system) / EVENTS;
console.log(`hot path (${stages}): ${EVENTS} events, ${CONCURRENCY} requests in flight, ${storedBytes} row bytes`);
console.log(`  ingest → rows built: ${Math.round(EVENTS / (wallMs / 1000)).toLocaleString('en-US')} ev/s wall (ingest alone ${Math.round(EVENTS / (ingestMs / 1000)).toLocaleString('en-US')} ev/s)`);
console.log(`  CPU, whole process: ${usPerEvent.toFixed(2)} µs/event (user ${(cpu.user / EVENTS).toFixed(2)}, system ${(cpu.system / EVENTS).toFixed(2)})`);
console.log(`  reference JSON.parse of the same events, one core: ${parseUs.toFixed(2)} µs/event → pipeline costs ${(usPerEvent / parseUs).toFixed(1)}× a parse`);
