// Retry delays for every consumer of the log: exponential with full jitter (AWS's "Exponential
// Backoff And Jitter"), so consumers that failed together — every forwarder of a SIEM that went
// down, every sink partition of a store that restarted — do not come back in lockstep.

export interface BackoffPolicy {
  /** The first retry's ceiling. */
  readonly baseMs: number;
  /** No delay is longer than this (retries go on for as long as it takes). */
  readonly maxMs: number;
}

/** The delay before retry number `attempt` (1 for the first): uniform in [ceiling/2, ceiling]. */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  // Half-jitter: never retry at once (full jitter's 0 ms would hammer a receiver that is down).
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Sleeps `ms`, or less when `signal` aborts (a shutdown must not wait out a long Retry-After). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
