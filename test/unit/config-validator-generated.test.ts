// The config validator is compiled from schemas/config.schema.json ahead of time (scripts/generate-config-validator.mjs):
// the committed file must be exactly what the schema gives, or a schema change would not take effect.
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = 'scripts/generate-config-validator.mjs';
const SCHEMA = 'schemas/config.schema.json';
const GENERATED = 'functions/config/configValidator.generated.ts';

async function check(root: string): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await promisify(execFile)(process.execPath, [join(root, SCRIPT), '--check']);
    return { code: 0, stderr };
  } catch (error) {
    const failed = error as { code: number; stderr: string };
    return { code: failed.code, stderr: failed.stderr };
  }
}

describe('the generated config validator', () => {
  // A copy of the script, schema and generated file, under node_modules so that the copy finds ajv.
  const copy = mkdtempSync(join(ROOT, 'node_modules', '.runwatch-generated-'));
  afterAll(() => rmSync(copy, { recursive: true, force: true }));
  for (const file of [SCRIPT, SCHEMA, GENERATED]) {
    mkdirSync(join(copy, file, '..'), { recursive: true });
    cpSync(join(ROOT, file), join(copy, file));
  }

  it('is what the schema gives', async () => {
    expect(await check(ROOT)).toEqual({ code: 0, stderr: '' });
  });

  it('is found out of date when the schema changes, and regenerated', async () => {
    const schema = JSON.parse(readFileSync(join(copy, SCHEMA), 'utf8')) as { properties: Record<string, { description?: string }> };
    schema.properties['timezone']!.description = 'changed';
    writeFileSync(join(copy, SCHEMA), JSON.stringify(schema));
    const stale = await check(copy);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain('out of date with schemas/config.schema.json: run `npm run generate`');
    await promisify(execFile)(process.execPath, [join(copy, SCRIPT)]);
    expect(await check(copy)).toEqual({ code: 0, stderr: '' });
    expect(readFileSync(join(copy, GENERATED), 'utf8')).toContain('"changed"');
  });
});
