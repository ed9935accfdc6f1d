// The SSE stream position (api/realtime/stream-position.ts): its text round-trips, "nothing
// stored" has a non-empty form a client sends back, and anything else is EVENT_ID_INVALID.
import { describe, expect, it } from 'vitest';
import { decodePosition, encodePosition } from '../api/realtime/stream-position.ts';
import { positionAfter } from '../api/realtime/sse-stream.ts';
import type { LiveRow } from '../api/realtime/readable-feed.ts';

describe('stream position', () => {
  it('round-trips, partitions in order', () => {
    const p = new Map([[2, 9], [0, 1523], [1, 884]]);
    expect(encodePosition(p)).toBe('0:1523,1:884,2:9');
    expect(decodePosition('0:1523,1:884,2:9')).toEqual(new Map([[0, 1523], [1, 884], [2, 9]]));
  });

  it('has a non-empty form for an empty store', () => {
    expect(encodePosition(new Map())).toBe('start');
    expect(decodePosition('start')).toEqual(new Map());
  });

  it('refuses what is not a position', () => {
    for (const bad of ['', 'garbage', '0:', '0:1,', '-1:3', '0:1;1:2', '0:99999999999999999']) {
      expect(() => decodePosition(bad), bad).toThrow(expect.objectContaining({ code: 'EVENT_ID_INVALID', status: 400 }));
    }
  });

  it('the position after a row moves only its partition', () => {
    const before = new Map([[0, 10], [1, 20]]);
    const row = { tenant_id: 't', seq: 5, log_partition: 1, log_offset: 25 } as LiveRow;
    expect(encodePosition(positionAfter(before, row))).toBe('0:10,1:25');
    expect(before.get(1)).toBe(20);
  });
});
