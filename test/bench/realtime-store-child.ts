// bench:realtime's store read, after the embedded deployment stopped (chDB: one process per data
// directory): each of a window's rows with its received_at — the sink's stamp, taken for the whole
// batch right before its insert (processors/store-sink.ts), so the same value names one insert.
// Input (BENCH_CHILD): {dir, like}; output: RESULT {ids, at} (at: received_at, ms since the epoch).
import { ChdbStore } from '../../infra/store/chdb-store.ts';

const input = JSON.parse(process.env['BENCH_CHILD'] ?? '{}') as { dir: string; like: string };

async function main(): Promise<{ ids: string[]; at: number[] }> {
  const store = new ChdbStore(input.dir);
  try {
    const rows = await store.query<{ id: string; at: string | number }>(
      `SELECT id, toUnixTimestamp64Milli(received_at) AS at FROM change_log WHERE id LIKE {like:String}
       UNION ALL SELECT id, toUnixTimestamp64Milli(received_at) AS at FROM audit_events WHERE id LIKE {like:String}`,
      { like: input.like },
    );
    return { ids: rows.map((r) => r.id), at: rows.map((r) => Number(r.at)) };
  } finally {
    await store.close();
  }
}

main().then(
  // Exit once the line is written: stdout to a pipe is asynchronous, and this one is large.
  (r) => process.stdout.write(`RESULT ${JSON.stringify(r)}\n`, () => process.exit(0)),
  (e: unknown) => {
    process.stderr.write(`realtime-store-child failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
