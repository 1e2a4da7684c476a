// Golden payloads: test/sinks/golden/<name>.json pins the FULL rendered payload. After an intended change, run
// `UPDATE_GOLDEN=1 npx vitest run test/sinks` and review the diff like code.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export function expectGolden(name: string, actual: unknown): void {
  const path = fileURLToPath(new URL(`./golden/${name}.json`, import.meta.url));
  const normalized: unknown = JSON.parse(JSON.stringify(actual));
  if (process.env['UPDATE_GOLDEN'] === '1') {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${JSON.stringify(normalized, null, 2)}\n`);
  }
  const expected: unknown = JSON.parse(readFileSync(path, 'utf8'));
  expect(normalized).toStrictEqual(expected);
}
