// The functions' own structured log lines (detect and notify write them to stdout: Cloud Logging reads them in the
// cloud, a terminal shows them under `functions-framework` in a developer's shell) carry what deployers wrote: the
// service names of the findings an entry raised. JSON.stringify leaves C1 controls (U+009B is a one-character CSI),
// line separators and bidi overrides as they are; the console sink, which writes to the same stdout, escapes them
// (jsonTerminalSafe). So must the log lines, with the same JSON values for Cloud Logging.
import { afterEach, expect, it, vi } from 'vitest';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import { createDetectFunction } from '../../functions/detect.js';
import { synthetic } from '../support/entries.js';
import { config } from '../support/run.js';

/** Written out here, independently of untrustedText.ts: what acts on a terminal, breaks a line or turns text around. */
const RAW_UNSAFE = /[\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c]/u;

function push(data: string, id: string): never {
  return {
    specversion: '1.0',
    id,
    type: 'google.cloud.pubsub.topic.v1.messagePublished',
    source: '//pubsub.googleapis.com/projects/p/topics/audit',
    data: { message: { data: Buffer.from(data, 'utf8').toString('base64'), messageId: id } },
  } as never;
}

afterEach(() => {
  vi.restoreAllMocks();
});

it('detect log lines name a hostile service with escapes, not raw terminal controls, and keep its value', async () => {
  // The finding's service is the entry's resource name, whatever it holds; this one clears the screen (CSI 2J in its
  // one-character C1 form), breaks the line and turns the rest around.
  const hostile = 'cloudrun-exfil\u009b2J\u2028\u202elanigiro';
  const entry = JSON.stringify(synthetic('run-SetIamPolicy-allUsers-refused')).split('cloudrun-exfil').join(hostile);
  const written: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  });
  const detect = createDetectFunction({
    env: { FINDINGS_TOPIC: 'runwatch-findings', DEAD_LETTER_TOPIC: 'runwatch-dead-letter' },
    config: config(),
    store: new MemoryBaselineStore(),
    publisher: { publish: async () => '1', close: async () => undefined },
  });
  try {
    await detect(push(entry, 'hostile-1'));
  } finally {
    await detect.close();
    vi.restoreAllMocks();
  }
  const lines = written.join('').split('\n').filter((line) => line !== '');
  const processed = lines.map((line) => JSON.parse(line) as { message: string; findings?: { service: string }[] }).find((r) => r.message.startsWith('entry processed'));
  // The finding was raised and its service logged, with the value the entry had.
  expect(processed?.findings?.map((f) => f.service)).toEqual([`some-project/${hostile}`]);
  for (const line of lines) expect(line).not.toMatch(RAW_UNSAFE);
});
