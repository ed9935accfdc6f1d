// The order in which the embedded engine is handed its calls. chDB 3.4 runs one query at a time
// per process, in the order they were handed over, and an insert beside them (measured: a query
// handed over while an insert runs finishes first); on 2 cores the two then share the CPU.
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
