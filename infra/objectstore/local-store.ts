// The embedded default destination: a folder `DATA_DIR/exports/<bucket>/`, keys as relative paths.
// A put writes `.<name>.<random>.partial` beside the target, fsyncs it, renames it into place and
// fsyncs the folder: the key shows either the previous object or the complete new one, also after
// a crash. Temporary names start with '.', which no key segment may (checkKey), so list() skips them.
// A folder keeps no headers: gzip is carried by the name (a gzip body needs a `.gz` key).
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, realpath, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { AuditflowError } from '../errors.ts';
import {
  byKey, checkBucket, checkKey, checkPrefix, destinationError, meteredPut, objectNotFound,
  type ObjectInfo, type ObjectStore, type PutOptions,
} from './object-store.ts';

const FOLDER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;
const WRITE_CHUNK_BYTES = 256 * 1024;
// Resources of the machine, not of the request: retrying later may succeed.
const TRANSIENT_FS = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EMFILE', 'ENFILE', 'EAGAIN', 'EBUSY']);

export async function openLocalStore(bucket: string, dataDir: string): Promise<ObjectStore> {
  checkBucket('local', bucket, FOLDER_NAME, 'letters, digits, ".", "_", "-", starting with a letter or digit, at most 255 characters');
  const root = path.resolve(dataDir, 'exports', bucket);
  await mkdir(root, { recursive: true });
  return new LocalStore(bucket, await realpath(root));
}

class LocalStore implements ObjectStore {
  readonly kind = 'local' as const;
  readonly destination: string;

  constructor(bucket: string, private readonly root: string) {
    this.destination = `local folder ${JSON.stringify(bucket)}`;
  }

  async put(key: string, body: NodeJS.ReadableStream | Readable, opts: PutOptions = {}): Promise<{ key: string; sizeBytes: number }> {
    checkKey(key);
    if (opts.contentEncoding !== undefined && !(opts.contentEncoding === 'gzip' && key.endsWith('.gz'))) {
      throw new AuditflowError('DESTINATION_INVALID',
        `${this.destination} keeps no headers: content-encoding ${JSON.stringify(opts.contentEncoding)} needs gzip and a key ending in .gz, got ${JSON.stringify(key)}`);
    }
    return meteredPut(this.destination, key, body, opts.signal, async (stream) => {
      const target = await this.resolve(key, true);
      const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.partial`);
      try {
        const fh = await open(tmp, 'wx', 0o640);
        try {
          for await (const chunk of stream) {
            const buf = chunk as Buffer;
            // write() may write less than asked (it does not loop): keep going until all of it is down.
            for (let off = 0; off < buf.length;) off += (await fh.write(buf, off, buf.length - off)).bytesWritten;
          }
          await fh.sync();
        } finally {
          await fh.close();
        }
        await rename(tmp, target);
      } catch (e) {
        await unlink(tmp).catch(() => {});
        throw e;
      }
      await syncDir(path.dirname(target));
    }, (e) => this.fsError(`put ${JSON.stringify(key)}`, e), WRITE_CHUNK_BYTES);
  }

  async get(key: string): Promise<Readable> {
    const file = await this.resolve(checkKey(key), false);
    try {
      const fh = await open(file, 'r');
      return fh.createReadStream({ highWaterMark: WRITE_CHUNK_BYTES });
    } catch (e) {
      if (isNoEntry(e)) throw objectNotFound(this.destination, key);
      throw this.fsError(`get ${JSON.stringify(key)}`, e);
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const file = await this.resolve(checkKey(key), false);
    try {
      const st = await stat(file);
      if (!st.isFile()) return undefined;
      return { key, sizeBytes: st.size, contentEncoding: key.endsWith('.gz') ? 'gzip' : undefined };
    } catch (e) {
      if (isNoEntry(e)) return undefined;
      throw this.fsError(`head ${JSON.stringify(key)}`, e);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    checkPrefix(prefix);
    // Walk from the deepest folder the prefix names; the rest of the prefix filters names.
    const slash = prefix.lastIndexOf('/');
    const start = slash < 0 ? '' : prefix.slice(0, slash);
    const out: ObjectInfo[] = [];
    const walk = async (relDir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(relDir === '' ? this.root : await this.resolve(relDir, false), { withFileTypes: true });
      } catch (e) {
        if (isNoEntry(e)) return;
        throw this.fsError(`list ${JSON.stringify(prefix)}`, e);
      }
      for (const ent of entries) {
        if (ent.name.startsWith('.')) continue; // temporary files, never keys
        const rel = relDir === '' ? ent.name : `${relDir}/${ent.name}`;
        // Symlinks are not followed: a key is a file or folder of this tree.
        if (ent.isDirectory()) {
          if (rel.startsWith(prefix) || prefix.startsWith(`${rel}/`)) await walk(rel);
        } else if (ent.isFile() && rel.startsWith(prefix)) {
          const st = await stat(path.join(this.root, rel));
          out.push({ key: rel, sizeBytes: st.size, contentEncoding: rel.endsWith('.gz') ? 'gzip' : undefined });
        }
      }
    };
    await walk(start);
    return byKey(out);
  }

  async delete(key: string): Promise<void> {
    const file = await this.resolve(checkKey(key), false);
    try {
      await unlink(file);
    } catch (e) {
      if (!isNoEntry(e)) throw this.fsError(`delete ${JSON.stringify(key)}`, e);
    }
  }

  async close(): Promise<void> {}

  /**
   * The key's path, after checking that its folder — with symlinks resolved — is inside the root.
   * (checkKey already refuses `..`; a symlinked folder inside the tree could still point out.)
   */
  private async resolve(key: string, create: boolean): Promise<string> {
    const target = path.join(this.root, key);
    const dir = path.dirname(target);
    let real: string;
    try {
      if (create) await mkdir(dir, { recursive: true });
      real = await realpath(dir);
    } catch (e) {
      if (!create && isNoEntry(e)) return target; // absent: the caller's open/stat reports it
      throw this.fsError(`resolve ${JSON.stringify(key)}`, e);
    }
    if (real !== this.root && !real.startsWith(this.root + path.sep)) {
      throw new AuditflowError('DESTINATION_INVALID', `object key ${JSON.stringify(key)} leaves ${this.destination}`);
    }
    return path.join(real, path.basename(target));
  }

  private fsError(op: string, e: unknown): AuditflowError {
    if (e instanceof AuditflowError) return e;
    const code = (e as NodeJS.ErrnoException | null)?.code ?? 'unknown';
    return destinationError(this.destination, op, TRANSIENT_FS.has(code) ? 'unavailable' : 'invalid', code);
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function isNoEntry(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
