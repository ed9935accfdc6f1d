// Event ids: a prefix and a ULID (48-bit millisecond time + 80 random bits, Crockford base32),
// so ids assigned by the pipeline sort by creation time and never collide across processes.
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export function ulid(now = Date.now()): string {
  let out = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  const rnd = randomBytes(16);
  for (let i = 0; i < 16; i++) out += ALPHABET[(rnd[i] ?? 0) & 31];
  return out;
}

export const newAuditId = (): string => `aud_${ulid()}`;
export const newChangeId = (): string => `chg_${ulid()}`;
