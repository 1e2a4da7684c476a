// Generates realistic Cloud Run audit traffic for the replay benchmark: the shapes of the real entries in
// test/fixtures/corpus (gcloud ReplaceService with containers, revision-level system events, service IAM
// policies), spread over many projects and services, in timestamp order, about 3 KB an entry.
import { createWriteStream, readFileSync } from 'node:fs';
import { once } from 'node:events';

type Json = Record<string, unknown>;

const fixtures = new URL('../../test/fixtures/', import.meta.url);
const read = (path: string): Json => JSON.parse(readFileSync(new URL(path, fixtures), 'utf8')) as Json;

const deployTemplate = JSON.stringify(read('synthetic-v1-ReplaceService-gcloud.json'));
const systemEventTemplate = JSON.stringify(shortenMessages(read('corpus/aegisai__sysevent-Services.ReplaceService__1.json')));
const iamTemplate = JSON.stringify(read('synthetic-run-SetIamPolicy-private.json'));

/** Deterministic pseudo-random numbers (mulberry32), so every run generates the same file. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The real revision event repeats one 700-character health-check message four times; keep one short copy. */
function shortenMessages(value: Json): Json {
  return JSON.parse(JSON.stringify(value, (key, v: unknown) => (key === 'message' && typeof v === 'string' && v.length > 200 ? v.slice(0, 200) : v))) as Json;
}

/** Replaces in the order given (longest, most specific patterns first). */
function fill(template: string, values: Record<string, string>): string {
  let out = template;
  for (const [from, to] of Object.entries(values)) out = out.split(from).join(to);
  return out;
}

export async function generate(path: string, count: number): Promise<number> {
  const next = random(42);
  const out = createWriteStream(path);
  let time = Date.parse('2024-01-01T00:00:00Z');
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    time += Math.floor(next() * 20_000);
    const project = `acme-${Math.floor(next() * 20)}`;
    const service = `svc-${Math.floor(next() * 500)}`;
    const timestamp = new Date(time).toISOString().replace('Z', '123Z');
    const kind = next();
    let line: string;
    if (kind < 0.45) {
      const repo = next() < 0.02 ? 'docker.io/someone' : `europe-west1-docker.pkg.dev/${project}/web`;
      const sa = next() < 0.03 ? 'other' : service;
      line = fill(deployTemplate, {
        'asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-slack-bot': repo,
        'cloud-run-slack-bot@': `${sa}@`,
        'test-project-1234': project,
        'cloud-run-slack-bot': service,
        abcdefghij: `n${i}`,
        'syn-gcloud-1': `bench-${i}`,
        '2024-05-06T22:58:04.355675Z': timestamp,
      });
    } else if (kind < 0.9) {
      line = fill(systemEventTemplate, {
        'computeengine-506321': project,
        'aegis-ai': service,
        '-ep109zdlbhw': `bench-${i}`,
        '2026-09-18T02:25:20.486995Z': timestamp,
      });
    } else {
      line = fill(iamTemplate, {
        'some-project': project,
        'cloudrun-exfil': service,
        'syn-iam-3': `bench-${i}`,
        '2024-02-03T09:00:00.000000Z': timestamp,
      });
    }
    // One line per entry, as a log export writes it.
    line = JSON.stringify(JSON.parse(line));
    bytes += line.length + 1;
    if (!out.write(`${line}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return bytes;
}
