// Durability helpers for files the service must not lose across a crash.
import { open } from 'node:fs/promises';

/** fsync a directory, so an entry just created, linked or renamed in it survives a power loss. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
