// The Cloud Functions marks on a revision (the `goog-managed-by: cloudfunctions` label, the
// `cloudfunctions.googleapis.com/function-id` annotation) are labels and annotations: whoever deploys can set them
// (Cloud Run rejects only the run.googleapis.com, cloud.googleapis.com, serving.knative.dev and autoscaling.knative.dev
// namespaces). A service labelled so by its deployer must not make its later console deploys silent; a revision that
// the Cloud Functions service agent created (its `serving.knative.dev/creator`, which Cloud Run sets from the caller)
// is still let go when Cloud Functions are not watched.
import { describe, expect, it } from 'vitest';
import { synthetic, type Json } from '../support/entries.js';
import { config, findingsLive, findingsOf } from '../support/run.js';

const utcOffice = config({ timezone: 'UTC', changeWindows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' }] });
const sequence = synthetic('seq-console-deploy') as unknown as Json[];
const ROBOT = 'service-123456789012@gcf-admin-robot.iam.gserviceaccount.com';
const USER = 'masatonaka1989@gmail.com';

function moved(from: string, to: string, renames: readonly (readonly [string, string])[] = []): Json[] {
  let text = JSON.stringify(sequence).replaceAll(from, to);
  for (const [a, b] of renames) text = text.replaceAll(a, b);
  return JSON.parse(text) as Json[];
}

/** Every revision (and template) labelled `goog-managed-by: cloudfunctions`, or annotated with a function id. */
function marked(entries: Json[], mark: 'label' | 'annotation'): Json[] {
  const text = JSON.stringify(entries);
  return JSON.parse(
    mark === 'label'
      ? text.replaceAll('"run.googleapis.com/startupProbeType":"Default"', '"run.googleapis.com/startupProbeType":"Default","goog-managed-by":"cloudfunctions"')
      : text.replaceAll('"autoscaling.knative.dev/maxScale":"100"', '"autoscaling.knative.dev/maxScale":"100","cloudfunctions.googleapis.com/function-id":"f"'),
  ) as Json[];
}

const first = moved('2024-05-06T22:', '2024-05-06T10:');
// Five days later, a saturday night: a console deploy that changes only the image (its write logs the template of the
// first, without containers): only its revision's events say it made a revision.
const second = moved('2024-05-06T22:', '2024-05-11T22:', [
  ['00023-kiv', '00024-abc'],
  ['7a9d252c-a432-4fa8-a1ac-1a6fe9e135c0', '7a9d252c-a432-4fa8-a1ac-1a6fe9e13500'],
  ['"serving.knative.dev/configurationGeneration": "23"', '"serving.knative.dev/configurationGeneration": "24"'],
  ['cloud-run-slack-bot:latest', 'cloud-run-slack-bot:v2'],
]);

const offWindow = async (entries: Json[], live: boolean) =>
  (live ? await findingsLive(entries, utcOffice) : await findingsOf(entries, utcOffice)).filter((f) => f.rule === 'off-window-deploy').map((f) => `${f.principal} ${f.revision ?? '-'}`);

describe('Cloud Functions marks set by the deployer', () => {
  it.each([
    ['the goog-managed-by label, replay', 'label', false],
    ['the goog-managed-by label, live', 'label', true],
    ['the function-id annotation, replay', 'annotation', false],
    ['the function-id annotation, live', 'annotation', true],
  ] as const)('fires: a later console deploy of a service marked by its user is reported: %s', async (_name, mark, live) => {
    expect(await offWindow([...marked(first, mark), ...marked(second, mark)], live)).toEqual([`${USER} cloud-run-slack-bot-00024-abc`]);
  });

  it.each([
    ['replay', false],
    ['live', true],
  ])('ignores: a revision the Cloud Functions service agent created (its creator), not watched: %s', async (_name, live) => {
    const byRobot = JSON.parse(JSON.stringify(marked(second, 'label')).replaceAll(USER, ROBOT)) as Json[];
    // Only the revision's events: the service agent's InternalServices write is skipped before them.
    expect(await offWindow([...first, byRobot[1]!, byRobot[2]!], live)).toEqual([]);
  });
});
