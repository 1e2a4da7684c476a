// Links on findings: the Cloud Console revision page and the audit entry in Logs Explorer. Every part that comes
// from the entry (project, location, service, insertId) is written so that it cannot change what the link means.
import { describe, expect, it } from 'vitest';
import { corpus, variant } from '../support/entries.js';
import { config, findingsOf } from '../support/run.js';

const EAGER = config({ timezone: 'UTC', changeWindows: [{ days: ['sun'], start: '03:00', end: '03:01' }] });
const CONSOLE_DEPLOY = corpus('kktae-demo__Services.CreateService__1');

/** The Logging query a Logs Explorer link opens (the `query=` matrix parameter, decoded). */
function loggingQuery(link: string): string {
  const match = /^https:\/\/console\.cloud\.google\.com\/logs\/query;query=([^;?]*);/.exec(link);
  expect(match, link).not.toBeNull();
  return decodeURIComponent(match![1]!);
}

describe('Logs Explorer link', () => {
  it('the real console deploy: the entry by insertId and timestamp, in its project', async () => {
    const [finding] = await findingsOf([CONSOLE_DEPLOY], EAGER);
    expect(finding!.links.logEntry).toBe(
      'https://console.cloud.google.com/logs/query;query=insertId%3D%2211gv063d3op0%22%0Atimestamp%3D%222023-04-28T02%3A26%3A34.926034Z%22;cursorTimestamp=2023-04-28T02%3A26%3A34.926034Z?project=kktae-demo',
    );
  });

  // The insertId is a Logging query string: a quote in it ended the string and let the rest of it be query.
  it.each([
    ['a quote and an OR', 'x" OR severity>=DEFAULT OR insertId="y', 'x\\" OR severity>=DEFAULT OR insertId=\\"y'],
    ['a backslash before the closing quote', 'x\\', 'x\\\\'],
    ['a newline (a new query line)', 'x\nseverity>=DEFAULT', 'x\\nseverity>=DEFAULT'],
  ])('an insertId with %s stays one string of the query', async (_name, insertId, escaped) => {
    const entry = variant(CONSOLE_DEPLOY, (e) => {
      e['insertId'] = insertId;
    });
    const [finding] = await findingsOf([entry], EAGER);
    expect(finding!.insertId).toBe(insertId);
    expect(loggingQuery(finding!.links.logEntry)).toBe(`insertId="${escaped}"\ntimestamp="2023-04-28T02:26:34.926034Z"`);
  });
});

describe('Cloud Console link', () => {
  it('the real console deploy: its revisions page', async () => {
    const [finding] = await findingsOf([CONSOLE_DEPLOY], EAGER);
    expect(finding!.links.console).toBe('https://console.cloud.google.com/run/detail/us-central1/hello/revisions?project=kktae-demo');
  });

  // A browser (WHATWG URL) resolves a `.` or `..` path segment, percent-encoded or not: /run/detail/L/../revisions is
  // /run/detail/revisions, another page. Such a name is no Cloud Run name: no link rather than a wrong one.
  it.each([
    ['service', '..'],
    ['service', '.'],
    ['location', '..'],
    ['location', '.'],
  ])('a %s named %j gives no console link', async (field, value) => {
    const entry = variant(CONSOLE_DEPLOY, (e) => {
      const resource = e['resource'] as { labels: Record<string, string> };
      resource.labels[field === 'service' ? 'service_name' : 'location'] = value;
    });
    const [finding] = await findingsOf([entry], EAGER);
    expect(finding![field as 'service' | 'location']).toBe(value);
    expect(finding!.links.console).toBeUndefined();
    expect(finding!.links.logEntry).toMatch(/^https:\/\/console\.cloud\.google\.com\/logs\/query;/);
  });
});

describe('Logs Explorer link without an insertId', () => {
  // Some re-exports leave insertId out; `insertId=""` matches no entry at all. The entry is then found by its log
  // and its timestamp.
  it('an entry without insertId: its logName and timestamp, no insertId=""', async () => {
    const entry = variant(CONSOLE_DEPLOY, (e) => {
      delete e['insertId'];
    });
    const [finding] = await findingsOf([entry], EAGER);
    expect(finding!.insertId).toBe('');
    expect(loggingQuery(finding!.links.logEntry)).toBe('logName="projects/kktae-demo/logs/cloudaudit.googleapis.com%2Factivity"\ntimestamp="2023-04-28T02:26:34.926034Z"');
  });
});
