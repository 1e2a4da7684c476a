// `npm run dev`: the whole pipeline on this machine.
//
//   1. starts the Pub/Sub and Firestore emulators (free ports, capped heaps);
//   2. starts the functions from the built package with functions-framework, exactly as deployed: one `detect`
//      process and one `notify` process per sink (console, and webhook pointed at a local receiver that checks
//      the signature), configured only by environment variables;
//   3. creates the topics and push subscriptions as Terraform does (functions/pubsub/topology.ts);
//   4. publishes `{"runwatch":"sweep"}` to the audit topic every few seconds, as Cloud Scheduler does;
//   5. prints what to run next (`runwatch publish FILES`), and stops everything on Ctrl-C.
//
// usage: node dist/functions/dev/main.js [--config FILE] [--sweep-seconds N]
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEV_SINKS, devConfig } from './devConfig.js';
import { createPubSub } from '../pubsub/publisher.js';
import { ensureTopology, topologyNames } from '../pubsub/topology.js';
import { verifySignature } from '../../sinks/webhook.js';
import { freePort, startEmulators, waitListening, type RunningEmulators } from './emulators.js';
import { terminalSafe } from '../untrustedText.js';

const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const PROJECT_ID = 'demo-runwatch';
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Running {
  readonly name: string;
  readonly child: ChildProcess;
}

async function main(argv: readonly string[]): Promise<number> {
  let values: { config?: string | undefined; 'sweep-seconds'?: string | undefined };
  try {
    ({ values } = parseArgs({ args: [...argv], options: { config: { type: 'string' }, 'sweep-seconds': { type: 'string' } }, strict: true }));
  } catch (error) {
    process.stderr.write(`runwatch dev: ${(error as Error).message}\nusage: npm run dev -- [--config FILE] [--sweep-seconds N]\n`);
    return 2;
  }
  // `npm run` runs this in the package's folder; INIT_CWD is where the user typed it, which their relative path is from.
  const configFile = values.config !== undefined ? resolve(process.env['INIT_CWD'] || process.cwd(), values.config) : join(PACKAGE_ROOT, 'examples/runwatch.yaml');
  const sweepSeconds = Number(values['sweep-seconds'] ?? 10);
  // A timer holds at most 2^31-1 ms (24.8 days): Node sets a longer interval to 1 ms, a sweep every millisecond. Below a
  // second a sweep (a publish and a line on the terminal each) buries everything else; deploys wait minutes anyway.
  if (!Number.isFinite(sweepSeconds) || sweepSeconds < 1 || sweepSeconds * 1000 > MAX_TIMER_MS) {
    process.stderr.write(`runwatch dev: --sweep-seconds must be a number from 1 to ${Math.floor(MAX_TIMER_MS / 1000)} (24 days)\n`);
    return 2;
  }
  const main = join(PACKAGE_ROOT, 'dist/functions/index.js');
  if (!existsSync(main)) {
    process.stderr.write(`runwatch dev: ${main} is missing; run \`npm run build\` first (\`npm run dev\` does).\n`);
    return 1;
  }

  const workDir = mkdtempSync(join(tmpdir(), 'runwatch-dev-'));
  const prepared = devConfig(configFile, workDir);
  if (!prepared.ok) {
    process.stderr.write(`${prepared.message}\n`);
    rmSync(workDir, { recursive: true, force: true });
    return 2;
  }
  const config = prepared.path;

  const children: Running[] = [];
  // Whatever happens to this process, its functions go with it (the emulators have their own exit hook).
  process.once('exit', () => {
    for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  // Ctrl-C and SIGTERM are ours from here on, not only once everything runs: a signal's default action ends the
  // process without 'exit', so one during start-up (the emulators take seconds) or a second one while stopping left
  // the emulators, each in a process group of its own that a terminal's Ctrl-C does not reach, serving as orphans.
  // Until the stack runs, and again once it is stopping, a signal exits at once: the exit hooks kill what started.
  const exitNow = (signal: NodeJS.Signals): void => {
    process.stderr.write('\nstopping...\n');
    rmSync(workDir, { recursive: true, force: true });
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  let onSignal: (signal: NodeJS.Signals) => void = exitNow;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => onSignal(signal));
  let emulators: RunningEmulators | undefined;
  let receiver: Server | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;
  let stopping = false;
  const stop = async (code: number): Promise<number> => {
    if (stopping) return code;
    stopping = true;
    if (sweepTimer) clearInterval(sweepTimer);
    await Promise.all(children.map(stopChild));
    receiver?.closeAllConnections();
    await new Promise<void>((done) => (receiver ? receiver.close(() => done()) : done()));
    await emulators?.stop().catch((error: unknown) => process.stderr.write(`runwatch dev: ${(error as Error).message}\n`));
    rmSync(workDir, { recursive: true, force: true });
    return code;
  };

  try {
    process.stderr.write('starting the Pub/Sub and Firestore emulators...\n');
    emulators = await startEmulators({ projectId: PROJECT_ID });
    Object.assign(process.env, emulators.env); // this process's own Pub/Sub client talks to the emulator too
    const secret = randomUUID();
    const receiverPort = await freePort();
    receiver = startReceiver(receiverPort, secret);
    const webhookUrl = `http://127.0.0.1:${receiverPort}/hooks/runwatch`;

    const names = topologyNames();
    const common = {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '',
      NODE_ENV: 'development',
      ...emulators.env,
      RUNWATCH_CONFIG: config,
      FINDINGS_TOPIC: names.findingsTopic,
      DEAD_LETTER_TOPIC: names.deadLetterTopic, // detect's (the audit side); notify's is the findings side's, below
    };
    const detectPort = await freePort();
    children.push(startFunction('detect', 'detect', detectPort, common));
    const notifyPorts: Record<string, number> = {};
    for (const sink of DEV_SINKS) {
      notifyPorts[sink] = await freePort();
      const sinkEnv = sink === 'webhook' ? { WEBHOOK_URL: webhookUrl, WEBHOOK_SECRET: secret } : {};
      children.push(startFunction(`notify:${sink}`, 'notify', notifyPorts[sink], { ...common, DEAD_LETTER_TOPIC: names.findingsDeadLetterTopic(sink), DELIVERY_DATABASE: names.deliveryDatabase, ...sinkEnv, RUNWATCH_SINK: sink }));
    }
    await Promise.all([waitListening(detectPort), ...Object.values(notifyPorts).map((port) => waitListening(port))]);

    const pubsub = await createPubSub(PROJECT_ID);
    const topology = await ensureTopology(pubsub, {
      projectId: PROJECT_ID,
      detectUrl: `http://127.0.0.1:${detectPort}`,
      notifyUrls: Object.fromEntries(Object.entries(notifyPorts).map(([sink, port]) => [sink, `http://127.0.0.1:${port}`])),
      maxDeliveryAttempts: 5,
      minimumBackoffSeconds: 1,
      maximumBackoffSeconds: 10,
    });
    const audit = pubsub.topic(topology.topics.audit);
    sweepTimer = setInterval(() => {
      audit.publishMessage({ json: { runwatch: 'sweep' }, attributes: { runwatch: 'sweep' } }).catch(() => undefined);
    }, sweepSeconds * 1000);

    process.stdout.write(
      [
        '',
        'runwatch is running locally:',
        `  Pub/Sub emulator    ${emulators.pubsub.host}   Firestore emulator ${emulators.firestore.host}   project ${PROJECT_ID}`,
        `  detect              http://127.0.0.1:${detectPort}   <- ${topology.subscriptions.detect}`,
        ...DEV_SINKS.map((sink) => `  notify ${sink.padEnd(12)} http://127.0.0.1:${notifyPorts[sink]}   <- ${topology.subscriptions.notify[sink]}`),
        `  webhook receiver    ${webhookUrl}`,
        `  dead letters        ${topology.subscriptions.deadLetter} (audit side), ${Object.values(topology.subscriptions.findingsDeadLetter ?? {}).join(', ')} (findings side, one per sink)`,
        `  config              ${configFile} (+ console and webhook sinks for this stack)`,
        `  sweep               every ${sweepSeconds} s (what Cloud Scheduler does in the cloud)`,
        '',
        'In another terminal, feed it log entries:',
        `  export PUBSUB_EMULATOR_HOST=${emulators.pubsub.host} GOOGLE_CLOUD_PROJECT=${PROJECT_ID}`,
        `  npx runwatch publish ${relativeExample('examples/logs')}`,
        '',
        'Findings appear below (console sink, webhook receiver). Ctrl-C stops everything.',
        '',
      ].join('\n'),
    );

    const signal = await new Promise<NodeJS.Signals | 'child-exit'>((done) => {
      onSignal = (received) => {
        onSignal = exitNow;
        done(received);
      };
      for (const { name, child } of children) {
        child.once('exit', (code) => {
          if (!stopping) process.stderr.write(`runwatch dev: ${name} exited (${code ?? 'signal'}); stopping\n`);
          done('child-exit');
        });
      }
    });
    onSignal = exitNow; // a second Ctrl-C while stopping
    await pubsub.close();
    process.stderr.write('\nstopping...\n');
    return stop(signal === 'child-exit' ? 1 : 0);
  } catch (error) {
    process.stderr.write(`runwatch dev: ${(error as Error).message}\n`);
    return stop(1);
  }
}

const FRAMEWORK = join(dirname(createRequire(import.meta.url).resolve('@google-cloud/functions-framework')), 'main.js');

function startFunction(label: string, target: string, port: number, env: Readonly<Record<string, string | undefined>>): Running {
  const child = spawn(process.execPath, [FRAMEWORK, `--target=${target}`, `--port=${port}`, '--signature-type=cloudevent'], {
    cwd: PACKAGE_ROOT,
    env: { ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        printLine(label, buffered.slice(0, newline));
        buffered = buffered.slice(newline + 1);
      }
    });
  }
  return { name: label, child };
}

/** Structured log lines are shown as `[label] SEVERITY message`; the rest as they are. */
function printLine(label: string, line: string): void {
  if (line.trim() === '') return;
  let text = line;
  try {
    const record = JSON.parse(line) as { severity?: unknown; message?: unknown };
    if (typeof record.message === 'string') text = `${String(record.severity ?? '')} ${record.message}`.trim();
  } catch {
    // not JSON: print as is
  }
  // Finding titles and messages quote what deployers wrote (JSON.parse turns `\u001b` back into ESC).
  process.stdout.write(`[${label}] ${terminalSafe(text)}\n`);
}

function stopChild({ child }: Running): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    child.kill('SIGTERM');
  });
}

/** A webhook receiver that checks the signature and prints each finding. */
function startReceiver(port: number, secret: string): Server {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (!verifySignature(body, String(req.headers['x-runwatch-signature'] ?? ''), secret)) {
        res.writeHead(401).end('bad signature');
        process.stdout.write('[webhook receiver] rejected a request with a bad signature\n');
        return;
      }
      try {
        const finding = JSON.parse(body.toString('utf8')) as { severity?: string; status?: string; title?: string; project?: string; service?: string; id?: string };
        const status = finding.status === 'resolved' ? 'RESOLVED' : finding.severity;
        process.stdout.write(`[webhook receiver] ${terminalSafe(`${status} ${finding.title} (${finding.project}/${finding.service}, id ${finding.id})`)}\n`);
      } catch {
        process.stdout.write('[webhook receiver] received a body that is not JSON\n');
      }
      res.writeHead(204).end();
    });
  });
  server.listen(port, '127.0.0.1');
  return server;
}

function relativeExample(path: string): string {
  return existsSync(join(PACKAGE_ROOT, path)) ? path : 'FILES...';
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`runwatch dev: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
