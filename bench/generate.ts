// Generates realistic Cloud Run audit traffic for the replay benchmark: the shapes of the real entries in
// test/fixtures/corpus (gcloud ReplaceService with containers, revision-level system events, service IAM
// policies), spread over many projects and services, in timestamp order. Entries average 3.9 KB (the issue asks
// for about 3 KB): a real gcloud ReplaceService write echoes the whole service in its response (5.2 KB here), the
// revision event is about 3.5 KB and an IAM change 1.6 KB. Smaller entries would make the bare loop faster per entry
// and the ratio lower.
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { once } from 'node:events';

type Json = Record<string, unknown>;

/** The package root: this module runs from bench/ (tests) or dist/bench/ (npm run bench). */
function packageRoot(): URL {
  for (let dir = new URL('./', import.meta.url); dir.pathname !== '/'; dir = new URL('../', dir)) {
    if (existsSync(new URL('package.json', dir))) return dir;
  }
  throw new Error('package.json not found above bench/generate');
}

const fixtures = new URL('test/fixtures/', packageRoot());
const read = <T = Json>(path: string): T => JSON.parse(readFileSync(new URL(path, fixtures), 'utf8')) as T;

// Compact JSON (one line per entry, as a log export writes it); fill() only swaps plain strings inside it.
const deployTemplate = JSON.stringify(read('synthetic-v1-ReplaceService-gcloud.json'));
// A successful revision event (Ready True), in the shape of the real one in the corpus.
const systemEventTemplate = JSON.stringify(shortenMessages(read<Json[]>('synthetic-seq-console-deploy.json')[1]!));
const iamTemplate = JSON.stringify(read('synthetic-run-SetIamPolicy-private.json'));

/** Deterministic pseudo-random numbers (mulberry32), so every run generates the same file. */
export function random(seed: number): () => number {
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

/**
 * Realistic traffic: each deploy is an admin write followed 10-30 s later by its revision's system event (the
 * same operation id), about one in five gcloud deploys writes twice; IAM policy changes in between.
 */
export async function generate(path: string, count: number): Promise<number> {
  const next = random(42);
  const out = createWriteStream(path);
  let time = Date.parse('2024-01-01T00:00:00Z');
  let bytes = 0;
  let written = 0;
  let deploy = 0;
  const pending: { at: number; line: string }[] = [];
  const write = async (line: string): Promise<void> => {
    bytes += line.length + 1;
    written++;
    if (!out.write(`${line}\n`)) await once(out, 'drain');
  };
  const iso = (ms: number): string => new Date(ms).toISOString().replace('Z', '123Z');
  while (written < count) {
    time += Math.floor(next() * 20_000);
    // System events whose time has come go out first, so the file is in timestamp order.
    while (pending.length > 0 && pending[0]!.at <= time && written < count) await write(pending.shift()!.line);
    if (written >= count) break;
    const project = `acme-${Math.floor(next() * 20)}`;
    const service = `svc-${Math.floor(next() * 500)}`;
    if (next() < 0.85) {
      deploy++;
      const repo = next() < 0.02 ? 'docker.io/someone' : `europe-west1-docker.pkg.dev/${project}/web`;
      const sa = next() < 0.03 ? 'other' : service;
      const operationId = `00000000-0000-4000-8000-${String(deploy).padStart(12, '0')}`;
      const writeLine = (at: number, id: string): string =>
        fill(deployTemplate, {
          'asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-slack-bot': repo,
          'cloud-run-slack-bot@': `${sa}@`,
          'test-project-1234': project,
          'cloud-run-slack-bot': service,
          '7a9d252c-a432-4fa8-a1ac-1a6fe9e135c0': operationId,
          abcdefghij: `n${deploy}`,
          'syn-gcloud-1': id,
          '2024-05-06T22:58:04.355675Z': iso(at),
        });
      await write(writeLine(time, `bench-w-${deploy}`));
      if (next() < 0.2) pending.push({ at: time + 14_000, line: writeLine(time + 14_000, `bench-w2-${deploy}`) });
      const readyAt = time + 10_000 + Math.floor(next() * 20_000);
      pending.push({
        at: readyAt,
        line: fill(systemEventTemplate, {
          'asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-source-deploy': repo,
          'test-project-1234': project,
          'cloud-run-slack-bot': service,
          '7a9d252c-a432-4fa8-a1ac-1a6fe9e135c0': operationId,
          'syn-rev-23': `bench-s-${deploy}`,
          '00023-kiv': `${String(deploy % 100_000).padStart(5, '0')}-abc`,
          '2024-05-06T22:58:17.120455Z': iso(readyAt),
        }),
      });
      pending.sort((a, b) => a.at - b.at);
    } else {
      await write(
        fill(iamTemplate, {
          'some-project': project,
          'cloudrun-exfil': service,
          'syn-iam-3': `bench-i-${written}`,
          '2024-02-03T09:00:00.000000Z': iso(time),
        }),
      );
    }
  }
  out.end();
  await once(out, 'finish');
  return bytes;
}
