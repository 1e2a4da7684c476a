#!/usr/bin/env node
// End-to-end latency of the live pipeline on the emulators: publish an audit entry -> detect -> findings topic ->
// notify (webhook sink) -> the local receiver, at a steady rate. The functions run as real functions-framework
// processes from the built package, as `npm run dev` runs them; the Pub/Sub and Firestore emulators are started
// and stopped here. Every entry is a distinct public invoker grant, which raises exactly one finding at once.
//
//   node bench/e2e.mjs [--rate 200] [--seconds 10]
//
// Prints p50 / p90 / p99 / max latency and any lost or duplicated finding, after waiting for as long as findings still
// arrive (a finding is lost only once none has come for 30 s). Needs `npm run build`.
import { spawn } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
if (!existsSync(join(ROOT, 'dist/functions/index.js'))) {
  console.error('dist/ is missing: run `npm run build` first.');
  process.exit(1);
}
const { startEmulators, freePort, waitListening } = await import(join(ROOT, 'dist/functions/dev/emulators.js'));
const { ensureTopology, topologyNames } = await import(join(ROOT, 'dist/functions/pubsub/topology.js'));
const { createPubSub } = await import(join(ROOT, 'dist/functions/pubsub/publisher.js'));

const { values } = parseArgs({ options: { rate: { type: 'string', default: '200' }, seconds: { type: 'string', default: '10' } } });
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const total = Math.round(rate * seconds);
const PROJECT = 'demo-runwatch-bench';
const FRAMEWORK = join(dirname(createRequire(import.meta.url).resolve('@google-cloud/functions-framework')), 'main.js');
const template = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/pipeline/synthetic-pipeline-public-invoker.json'), 'utf8'));

/** A distinct service per entry: no baseline is shared, so this measures the pipeline, not contention. */
function entry(i) {
  const service = `bench-${i}`;
  const text = JSON.stringify(template).replaceAll('payments-api', service);
  const e = JSON.parse(text);
  e.insertId = `bench-${i}`;
  return e;
}

const work = mkdtempSync(join(tmpdir(), 'runwatch-bench-'));
const children = [];
let emulators;
let receiver;
process.once('exit', () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

try {
  emulators = await startEmulators({ projectId: PROJECT });
  Object.assign(process.env, emulators.env);
  const secret = randomUUID();
  const sent = new Map(); // insertId -> publish time
  const latencies = [];
  let lastArrival = NaN;
  const seen = new Map();
  const receiverPort = await freePort();
  receiver = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      const body = Buffer.concat(chunks);
      const ok = req.headers['x-runwatch-signature'] === `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
      res.writeHead(ok ? 204 : 401).end();
      if (!ok) return;
      const finding = JSON.parse(body.toString('utf8'));
      seen.set(finding.insertId, (seen.get(finding.insertId) ?? 0) + 1);
      const start = sent.get(finding.insertId);
      if (start !== undefined && seen.get(finding.insertId) === 1) {
        latencies.push(at - start);
        lastArrival = at;
      }
    });
  });
  await new Promise((resolve) => receiver.listen(receiverPort, '127.0.0.1', resolve));

  const config = join(work, 'runwatch.json');
  writeFileSync(config, JSON.stringify({ sinks: { webhook: { minSeverity: 'LOW' } } }));
  const names = topologyNames();
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production', ...emulators.env, RUNWATCH_CONFIG: config, FINDINGS_TOPIC: names.findingsTopic, DEAD_LETTER_TOPIC: names.deadLetterTopic };
  const detectPort = await freePort();
  const notifyPort = await freePort();
  for (const [target, port, extra] of [
    ['detect', detectPort, {}],
    ['notify', notifyPort, { RUNWATCH_SINK: 'webhook', WEBHOOK_URL: `http://127.0.0.1:${receiverPort}/hook`, WEBHOOK_SECRET: secret }],
  ]) {
    children.push(spawn(process.execPath, [FRAMEWORK, `--target=${target}`, `--port=${port}`], { cwd: ROOT, env: { ...env, ...extra }, stdio: 'ignore' }));
  }
  await Promise.all([detectPort, notifyPort].map((port) => waitListening(port)));

  const pubsub = await createPubSub(PROJECT);
  const topology = await ensureTopology(pubsub, {
    projectId: PROJECT,
    detectUrl: `http://127.0.0.1:${detectPort}`,
    notifyUrls: { webhook: `http://127.0.0.1:${notifyPort}` },
    minimumBackoffSeconds: 1,
    maximumBackoffSeconds: 10,
  });
  const audit = pubsub.topic(topology.topics.audit, { batching: { maxMessages: 100, maxMilliseconds: 1 } });
  const floor = await emulatorHop(pubsub, rate, Math.min(total, 200));

  // Warm-up, not measured: the first invocations load the clients, and the emulators' JVMs need a few hundred
  // requests before their JIT settles.
  const warmUp = Array.from({ length: 100 }, (_, i) => entry(`warm-${i}`));
  for (const e of warmUp) {
    sent.set(e.insertId, performance.now());
    await audit.publishMessage({ json: e });
    await sleep(20);
  }
  await waitFor(() => warmUp.every((e) => seen.has(e.insertId)), 60_000);
  latencies.length = 0;
  seen.clear();

  console.log(`publishing ${total} entries at ${rate}/s ...`);
  const entries = Array.from({ length: total }, (_, i) => entry(i));
  const started = performance.now();
  const publishes = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const e = entries[i];
    sent.set(e.insertId, performance.now());
    publishes.push(audit.publishMessage({ data: Buffer.from(JSON.stringify(e)), attributes: { 'logging.googleapis.com/timestamp': e.timestamp } }));
  }
  await Promise.all(publishes);
  // A backlog drains at whatever rate the pipeline manages: a finding that arrives after a minute is late, not lost
  // (a fixed minute counted 1,349 of 2,000 as lost on a loaded machine, and left them out of the percentiles).
  await waitWhileArriving(() => latencies.length, total, 30_000);
  const drainedMs = lastArrival - started;
  await sleep(2_000); // late duplicates would show up here

  const sorted = [...latencies].sort((a, b) => a - b);
  const pct = (p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN);
  const lost = total - latencies.length;
  const duplicated = [...seen.values()].filter((n) => n > 1).length;
  console.log(
    `end to end (publish -> webhook receiver), ${total} entries at ${rate}/s: ` +
      `p50 ${pct(50).toFixed(0)} ms, p90 ${pct(90).toFixed(0)} ms, p99 ${pct(99).toFixed(0)} ms, max ${sorted.at(-1)?.toFixed(0)} ms; ` +
      `lost ${lost}, duplicated ${duplicated}; the last arrived ${(drainedMs / 1000).toFixed(1)} s after the first publish ` +
      `(${((1000 * latencies.length) / drainedMs).toFixed(0)} entries/s through the pipeline)`,
  );
  console.log(
    `the emulator alone, one push hop (publish -> a receiver that answers at once), ${floor.count} messages at ${rate}/s: ` +
      `p50 ${floor.p50.toFixed(0)} ms, p99 ${floor.p99.toFixed(0)} ms; the pipeline makes two such hops (audit -> detect, findings -> notify)`,
  );
  await pubsub.close();
  process.exitCode = lost > 0 || duplicated > 0 ? 1 : 0;
} catch (error) {
  console.error(`bench failed: ${error?.stack ?? error}`);
  process.exitCode = 1;
} finally {
  for (const child of children) {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }
  receiver?.closeAllConnections();
  receiver?.close();
  await emulators?.stop();
  rmSync(work, { recursive: true, force: true });
}

/**
 * The emulator's own share: latency of one push hop to a receiver that does nothing, at the same rate. The emulator
 * delivers pushes on its own schedule, so this is the floor of each of the pipeline's two hops.
 */
async function emulatorHop(pubsub, rate, count) {
  const sentAt = new Map();
  const latencies = [];
  const port = await freePort();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const id = JSON.parse(Buffer.concat(chunks).toString('utf8')).message?.attributes?.hop;
      if (sentAt.has(id)) latencies.push(performance.now() - sentAt.get(id));
      res.writeHead(204).end();
    });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  try {
    const [topic] = await pubsub.createTopic(`bench-hop-${randomUUID().slice(0, 8)}`);
    await topic.createSubscription(`${topic.name.split('/').pop()}-push`, { pushConfig: { pushEndpoint: `http://127.0.0.1:${port}/hop` } });
    const publisher = pubsub.topic(topic.name, { batching: { maxMessages: 100, maxMilliseconds: 1 } });
    const measure = async (prefix, n) => {
      latencies.length = 0;
      const started = performance.now();
      for (let i = 0; i < n; i++) {
        const wait = started + (i * 1000) / rate - performance.now();
        if (wait > 1) await sleep(wait);
        sentAt.set(`${prefix}${i}`, performance.now());
        void publisher.publishMessage({ data: Buffer.from('{}'), attributes: { hop: `${prefix}${i}` } });
      }
      await waitFor(() => latencies.length >= n, 30_000).catch(() => undefined);
    };
    await measure('warm-', 50);
    await measure('', count);
    const sorted = [...latencies].sort((a, b) => a - b);
    const pct = (p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
    return { count: sorted.length, p50: pct(50), p99: pct(99) };
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves once `count()` reaches `total`, or once it has not grown for `idleMs`: what is missing then is lost. */
async function waitWhileArriving(count, total, idleMs) {
  let last = count();
  let grewAt = Date.now();
  while (count() < total) {
    await sleep(50);
    if (count() !== last) {
      last = count();
      grewAt = Date.now();
    } else if (Date.now() - grewAt > idleMs) return;
  }
}

async function waitFor(condition, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(20);
  }
}
