#!/usr/bin/env node
// Thin launcher: the CLI is written in TypeScript and compiled to dist/ (`npm run build`; published packages ship it).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/functions/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('runwatch: not built yet; run `npm run build` in the package directory first.\n');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
