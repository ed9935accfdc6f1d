// Versioned ClickHouse migrations (schemas/migrations/NNNN_name.sql), applied at start-up in
// order, idempotently: every statement is itself idempotent (IF NOT EXISTS) and the applied
// versions are recorded, so two processes starting together converge on the same schema.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { Store } from './store.ts';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../schemas/migrations/', import.meta.url));

export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => {
      const sql = readFileSync(path.join(dir, f), 'utf8')
        .split('\n')
        .filter((l) => !l.trimStart().startsWith('--'))
        .join('\n');
      return {
        version: Number(f.slice(0, 4)),
        name: f.slice(5, -4),
        statements: sql.split(/;\s*(?:\n|$)/).map((s) => s.trim()).filter(Boolean),
      };
    });
}

export async function migrate(store: Store, migrations = loadMigrations()): Promise<number[]> {
  await store.command(
    `CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))
     ENGINE = ReplacingMergeTree ORDER BY version`,
  );
  const done = new Set((await store.query<{ version: number }>('SELECT DISTINCT version FROM schema_migrations')).map((r) => Number(r.version)));
  const applied: number[] = [];
  for (const m of migrations) {
    if (done.has(m.version)) continue;
    for (const stmt of m.statements) await store.command(stmt);
    await store.command('INSERT INTO schema_migrations (version, name) VALUES ({version:UInt32}, {name:String})', { version: m.version, name: m.name });
    applied.push(m.version);
  }
  return applied;
}
