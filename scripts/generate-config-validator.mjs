#!/usr/bin/env node
// Generates functions/config/configValidator.generated.ts: the config schema (schemas/config.schema.json) compiled
// by ajv into standalone validation code, once, at development time. Compiling the schema took 120-130 ms at every
// start of the CLI and at every cold start of a function; the generated code is the same validator, ready to run.
//
//   node scripts/generate-config-validator.mjs           writes the file
//   node scripts/generate-config-validator.mjs --check   exits 1 when the file is not what the schema gives (a test runs this)
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';

const root = new URL('../', import.meta.url);
const schemaFile = new URL('schemas/config.schema.json', root);
const outFile = new URL('functions/config/configValidator.generated.ts', root);

/**
 * The validator's options, as functions/config/load.ts relies on them: every error at once, defaults filled in
 * place, errors with their schema (load.ts reads a pattern's `title`), strict schema checks; strictRequired off
 * because the exception schema lists alternatives in anyOf/required.
 */
const OPTIONS = { allErrors: true, useDefaults: true, verbose: true, strict: true, strictRequired: false };

function source() {
  const schema = JSON.parse(readFileSync(schemaFile, 'utf8'));
  const ajv = new Ajv({ ...OPTIONS, code: { source: true, esm: true } });
  const code = standaloneCode(ajv, ajv.compile(schema));
  return [
    '// @ts-nocheck',
    '// GENERATED from schemas/config.schema.json by scripts/generate-config-validator.mjs: do not edit.',
    '// After a change to the schema run `npm run generate`; a test fails while this file is out of date.',
    // ajv's ESM output still loads its runtime helpers (unicode length, deep equality) with require().
    "import { createRequire } from 'node:module';",
    'const require = createRequire(import.meta.url);',
    code.replace(/^"use strict";/, ''),
    '',
  ].join('\n');
}

const generated = source();
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(outFile, 'utf8');
  } catch {
    // missing: out of date
  }
  if (current !== generated) {
    process.stderr.write(`${fileURLToPath(outFile)} is out of date with schemas/config.schema.json: run \`npm run generate\`\n`);
    process.exit(1);
  }
} else {
  writeFileSync(outFile, generated);
}
