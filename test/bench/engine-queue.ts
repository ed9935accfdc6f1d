// A read-priority call order for the embedded engine, measured by bench:api's engine probe
// (./engine-contention.ts) and NOT adopted by ChdbStore: see .scratch/benchmarks-api.md (issue 9,
// item 8). chDB 3.4 runs one query at a time per process; an insert's parsing runs beside a query
// and its write waits for the query running (and a query for an insert's write); on 2 cores every
// call also shares the CPU. Holding inserts back while reads wait did not shorten a lone reader's
// tail (the insert already running still delays it) and cost the sink insert throughput.
interface Pending {
  start(): void;
  at: number;
}

/**
 * What the engine runs next. Reads (queries) are handed to chDB at once, up to two in the engine
 * (the one running and the next, so the engine need not wait for the main thread between them).
 * Writes (inserts, commands) wait while a read is in the engine or waiting: a write starts on an
 * idle engine, or once it has waited `maxWriteWaitMs`, so reads have the engine (and the cores)
 * to themselves and a write is never held long (the sink's next batch keeps filling meanwhile).
 * NOTE: a call already running cannot be pre-empted.
 */
export class EngineQueue {
  private inEngine = 0;
  private readonly reads: Pending[] = [];
  private readonly writes: Pending[] = [];

  constructor(private readonly maxWriteWaitMs: number, private readonly now: () => number = () => performance.now()) {}

  submit<R>(kind: 'read' | 'write', fn: () => Promise<R>): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const start = () => {
        this.inEngine++;
        fn().then(resolve, reject).finally(() => {
          this.inEngine--;
          this.pump();
        });
      };
      (kind === 'read' ? this.reads : this.writes).push({ start, at: this.now() });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inEngine < 2) {
      const w = this.writes[0];
      const writeDue = w !== undefined && ((this.inEngine === 0 && this.reads.length === 0) || this.now() - w.at >= this.maxWriteWaitMs);
      const next = writeDue ? this.writes.shift() : this.reads.shift();
      if (next === undefined) return;
      next.start();
    }
  }
}
