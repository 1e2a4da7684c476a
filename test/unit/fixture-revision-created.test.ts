// The synthetic sequences (test/fixtures/synthetic-seq-*) are read as one deploy each: a revision system event's
// `response.metadata.creationTimestamp` is when its deploy created the revision (off-window-deploy judges a deploy
// known only from its events there: audit/systemEvent.ts createdMs). As in the real entries, it is a little after the
// write that made the revision (131-143 ms for a v1 write) and before the event (its Ready condition changed later:
// a minute in aegisai__sysevent-Services.ReplaceService__1), within the default correlation.waitSeconds (600 s).
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { at, corpus, type Json } from '../support/entries.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const WAIT_MS = 600_000;

type Entry = { timestamp: string; logName: string; protoPayload?: { resourceName?: string; response?: { kind?: string; metadata?: { creationTimestamp?: string } } }; resource?: { labels?: Record<string, string> } };

const sequences = readdirSync(FIXTURES).filter((name) => name.startsWith('synthetic-seq-') && name.endsWith('.json'));

describe('synthetic sequences: a revision event was created by its deploy, a little before the event', () => {
  it.each(sequences)('%s', (name) => {
    const entries = JSON.parse(readFileSync(`${FIXTURES}${name}`, 'utf8')) as Entry[];
    const writes = entries.filter((e) => e.logName.endsWith('%2Factivity')).map((e) => Date.parse(e.timestamp));
    const revisions = entries.filter((e) => e.logName.endsWith('%2Fsystem_event') && e.protoPayload?.response?.kind === 'Revision');
    expect(revisions.length).toBeGreaterThan(0);
    for (const event of revisions) {
      const eventMs = Date.parse(event.timestamp);
      const createdMs = Date.parse(event.protoPayload!.response!.metadata!.creationTimestamp!);
      expect(createdMs, `${event.timestamp}: created at or before the event`).toBeLessThanOrEqual(eventMs);
      expect(eventMs - createdMs, `${event.timestamp}: created within the wait before the event`).toBeLessThanOrEqual(WAIT_MS);
      // The write that made it (the first of the sequence's writes before the event, within the wait) came first.
      const write = writes.filter((w) => w <= eventMs && eventMs - w <= WAIT_MS).sort((a, b) => a - b)[0];
      if (write !== undefined) expect(createdMs, `${event.timestamp}: created after its write`).toBeGreaterThan(write);
    }
  });
});

// Tests move entries in time with `at` (test/support/entries.ts): a revision event moved keeps its creation as far
// before it as it was, as its deploy would (else a moved event is judged at a creation time of another day, or at its
// own when the creation falls after it). A service event's creationTimestamp is the service's: it stays.
describe('at(): a revision event moved in time takes its creationTimestamp along', () => {
  const created = (entry: Json): string | undefined => ((entry['protoPayload'] as { response?: { metadata?: { creationTimestamp?: string } } }).response?.metadata?.creationTimestamp);
  it.each([
    ['the real revision event (aegisai__sysevent-Services.ReplaceService__1), a day later', corpus('aegisai__sysevent-Services.ReplaceService__1'), '2026-09-19T02:25:20.486995Z', '2026-09-19T02:24:21.031565Z'],
    ['the same, an hour earlier', corpus('aegisai__sysevent-Services.ReplaceService__1'), '2026-09-18T01:25:20.486995Z', '2026-09-18T01:24:21.031565Z'],
    ['a service event (sysevent-arri__nomethod__1): the service\'s own creation stays', corpus('sysevent-arri__nomethod__1'), '2021-07-23T20:47:13.081098Z', '2021-07-12T23:53:28.990284Z'],
    ['an admin write (kktae-demo__Services.CreateService__1): its response\'s stays', corpus('kktae-demo__Services.CreateService__1'), '2023-04-29T02:26:34.926034Z', created(corpus('kktae-demo__Services.CreateService__1'))],
  ])('%s', (_name, entry, timestamp, expected) => {
    expect(created(at(entry, timestamp))).toBe(expected);
  });
});
