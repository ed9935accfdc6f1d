// Timestamps out of segment files without decoding records (retention by age, offsetsForTime).
// A group header carries its record count and body length, so a segment is walked header to
// header; a frame's payload starts with its f64 timestamp. Within a group, timestamps only grow
// (appends are queued in time order), so the first frame of each group is enough to find the one
// group that must be read frame by frame. Formats: ./log-format.ts.
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { FRAME_HEADER, GROUP_HEADER, isGroupMagic } from './log-format.ts';

export interface GroupHead {
  /** File position of the group header. */
  pos: number;
  /** Index of the group's first record within the segment (its offset minus the segment's base). */
  first: number;
  count: number;
  /** Body length (after the header). */
  length: number;
  firstTimestamp: number;
}

const CHUNK = 64 * 1024;
const HEAD = GROUP_HEADER + FRAME_HEADER + 8;

/** The complete groups of a segment up to `size` bytes, oldest first; reads 64 KiB at a time. */
export async function* groupHeads(fh: FileHandle, size: number): AsyncGenerator<GroupHead> {
  let buf = Buffer.alloc(0);
  let bufPos = 0;
  let pos = 0;
  let first = 0;
  while (pos + HEAD <= size) {
    if (pos < bufPos || pos + HEAD > bufPos + buf.length) {
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK, size - pos));
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, pos);
      buf = chunk.subarray(0, bytesRead);
      bufPos = pos;
      if (bytesRead < HEAD) return;
    }
    const o = pos - bufPos;
    if (!isGroupMagic(buf.readUInt32LE(o))) return;
    const length = buf.readUInt32LE(o + 4);
    const count = buf.readUInt32LE(o + 8);
    if (pos + GROUP_HEADER + length > size) return;
    if (count > 0) yield { pos, first, count, length, firstTimestamp: buf.readDoubleLE(o + GROUP_HEADER + FRAME_HEADER) };
    pos += GROUP_HEADER + length;
    first += count;
  }
}

/** Every record's timestamp in one group, in order. */
async function frameTimestamps(fh: FileHandle, g: GroupHead): Promise<number[]> {
  const body = Buffer.allocUnsafe(g.length);
  const { bytesRead } = await fh.read(body, 0, g.length, g.pos + GROUP_HEADER);
  const out: number[] = [];
  for (let o = 0; o + FRAME_HEADER + 8 <= bytesRead; o += FRAME_HEADER + body.readUInt32LE(o)) out.push(body.readDoubleLE(o + FRAME_HEADER));
  return out;
}

async function withFile<T>(file: string, fn: (fh: FileHandle) => Promise<T>): Promise<T> {
  const fh = await open(file, 'r');
  try {
    return await fn(fh);
  } finally {
    await fh.close();
  }
}

/** The newest record's timestamp in the first `size` bytes of a segment, or null when it holds none. */
export function newestTimestamp(file: string, size: number): Promise<number | null> {
  return withFile(file, async (fh) => {
    let last: GroupHead | null = null;
    for await (const g of groupHeads(fh, size)) last = g;
    if (!last) return null;
    let newest = last.firstTimestamp;
    for (const t of await frameTimestamps(fh, last)) if (t > newest) newest = t;
    return newest;
  });
}

/** The first record's timestamp of a segment, or null when it holds none. */
export function firstTimestamp(file: string, size: number): Promise<number | null> {
  return withFile(file, async (fh) => {
    for await (const g of groupHeads(fh, size)) return g.firstTimestamp;
    return null;
  });
}

/**
 * The index within the segment of its first record whose timestamp is >= `epochMs`, or null when
 * no record in the first `size` bytes is. Reads the group headers and one group's frames.
 */
export function indexForTime(file: string, size: number, epochMs: number): Promise<number | null> {
  return withFile(file, async (fh) => {
    let prev: GroupHead | null = null;
    const within = async (g: GroupHead): Promise<number | null> => {
      const ts = await frameTimestamps(fh, g);
      const i = ts.findIndex((t) => t >= epochMs);
      return i < 0 ? null : g.first + i;
    };
    for await (const g of groupHeads(fh, size)) {
      if (g.firstTimestamp >= epochMs) return (prev && (await within(prev))) ?? g.first;
      prev = g;
    }
    return prev ? within(prev) : null;
  });
}
