#!/usr/bin/env node
// The one entry point: `auditflow [all|ingest|processor|api]`. TypeScript runs through tsx's
// loader so the same sources serve development, tests and deployment.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../infra/cli.ts');
await main(process.argv.slice(2));
