// Console deploys (synthetic-seq-console-deploy: a v1 ReplaceService written by the console, its revision and service
// events) as the k-th of a service's history, 5 minutes apart from 22:58 + 5k minutes, with the settings a test varies.
import { readFileSync } from 'node:fs';
import type { Json } from './entries.js';

type Obj = Record<string, any>;
const CONSOLE = JSON.parse(readFileSync(new URL('../fixtures/synthetic-seq-console-deploy.json', import.meta.url), 'utf8')) as Json[];
const FIXTURE_IDENTITY = 'cloud-run-slack-bot@test-project-1234.iam.gserviceaccount.com';

/**
 * What a console deploy's write sets: the invoker check off or on, the ingress, and IAP, the default URL and the Binary
 * Authorization policy when given (`binaryAuthorization`: the policy, `default` or a name; null: none enforced).
 */
export interface ConsoleSettings {
  readonly checkOff: boolean;
  readonly ingress: string;
  readonly iap?: boolean;
  readonly urlDisabled?: boolean;
  readonly binaryAuthorization?: string | null;
}

/** The container of the fixture's revision (as its revision event shows it). */
const CONTAINER = {
  name: 'cloud-run-slack-bot-1',
  image: 'asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-source-deploy/cloud-run-slack-bot:latest',
  ports: [{ name: 'http1', containerPort: 8080 }],
};

/** The console deploy as the k-th: its write by `identity` with `settings`, and the first `events` of its system events. */
export function consoleDeploy(k: number, identity: string, settings: ConsoleSettings, events: number): Json[] {
  // 23:00 + 5k minutes: past the 11th the minute would read 60 and more, no timestamp at all.
  if (!Number.isInteger(k) || k < 0 || k > 11) throw new RangeError(`consoleDeploy: k must be 0 to 11 (got ${k}): its write is at 23:(5k)`);
  const text = JSON.stringify(CONSOLE)
    .replaceAll('2024-05-06T22:58:', `2024-05-06T23:${String(5 * k).padStart(2, '0')}:`)
    .replaceAll('cloud-run-slack-bot-00023-kiv', `cloud-run-slack-bot-000${String(k).padStart(2, '0')}-kiv`)
    .replaceAll('7a9d252c-a432-4fa8-a1ac-1a6fe9e135c0', `console-op-${k}`)
    .replaceAll(FIXTURE_IDENTITY, identity)
    .replaceAll('"qd23mgd4u3f"', `"write-${k}"`)
    .replaceAll('"syn-rev-23"', `"revision-event-${k}"`)
    .replaceAll('"syn-svc-23"', `"service-event-${k}"`);
  const [write, ...systemEvents] = JSON.parse(text) as Obj[];
  // (Set on the objects: JSON.stringify writes no space after a colon, so the fixture's text is no place to set it.)
  for (const side of [write!['protoPayload']['request']['service'], write!['protoPayload']['response']]) {
    const annotations = side.metadata.annotations as Record<string, string>;
    annotations['run.googleapis.com/invoker-iam-disabled'] = String(settings.checkOff);
    annotations['run.googleapis.com/ingress'] = settings.ingress;
    if (settings.iap !== undefined) annotations['run.googleapis.com/iap-enabled'] = String(settings.iap);
    if (settings.urlDisabled !== undefined) annotations['run.googleapis.com/default-url-disabled'] = String(settings.urlDisabled);
    // The policy annotation on the service metadata, as `gcloud run deploy --binary-authorization=default` writes it
    // (removed by `--clear-binary-authorization`). The console logs a body without its containers, where a missing
    // annotation says nothing (audit/template.ts v1BinaryAuthorization): a write that sets the policy logs them here,
    // the same in every deploy (the fixture revision's), so that "none" reads as none and the templates differ as
    // before.
    if (settings.binaryAuthorization !== undefined) {
      if (settings.binaryAuthorization === null) delete annotations['run.googleapis.com/binary-authorization'];
      else annotations['run.googleapis.com/binary-authorization'] = settings.binaryAuthorization;
      side.spec.template.spec.containers = [CONTAINER];
    }
  }
  return [write!, ...systemEvents.slice(0, events)];
}
