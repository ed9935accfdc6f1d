// A consumer group's position in the embedded log: one file per group and partition,
// <partition dir>/committed.<group>, holding the next offset to read as decimal text, replaced
// atomically (write a temporary file, rename). Every such file holds back retention (./retention.ts).
import { existsSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AuditflowError } from '../errors.ts';

const PREFIX = 'committed.';
const TMP = '.tmp';

/** Group names become file names: refuse what could leave the directory or read as a temporary file. */
export function checkGroupName(group: string): void {
  if (!/^[A-Za-z0-9._-]{1,200}$/.test(group) || group.endsWith(TMP) || group === '.' || group === '..') {
    throw new AuditflowError('CONFIG_INVALID', `embedded log: consumer group name ${JSON.stringify(group)} must be 1-200 of A-Z a-z 0-9 . _ - and not end in ${TMP}`);
  }
}

const fileOf = (dir: string, group: string): string => path.join(dir, `${PREFIX}${group}`);

export function readCommitted(dir: string, group: string): bigint | null {
  const f = fileOf(dir, group);
  return existsSync(f) ? BigInt(readFileSync(f, 'utf8').trim()) : null;
}

export function writeCommitted(dir: string, group: string, nextOffset: bigint): void {
  const f = fileOf(dir, group);
  writeFileSync(`${f}${TMP}`, nextOffset.toString());
  renameSync(`${f}${TMP}`, f);
}

/** Removes the group's position; true when there was one. */
export function deleteCommitted(dir: string, group: string): boolean {
  const f = fileOf(dir, group);
  if (!existsSync(f)) return false;
  unlinkSync(f);
  return true;
}

/** Every group's position on the partition (temporary files left by a crash mid-commit are not positions). */
export function allCommitted(dir: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    if (!name.startsWith(PREFIX) || name.endsWith(TMP)) continue;
    const group = name.slice(PREFIX.length);
    let text: string;
    try {
      text = readFileSync(path.join(dir, name), 'utf8').trim();
    } catch {
      continue; // deleted since the listing (deleteGroup)
    }
    if (/^\d+$/.test(text)) out.set(group, BigInt(text));
  }
  return out;
}
