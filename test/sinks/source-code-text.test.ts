// How the sinks show new-image-repository's findings about code deployed without an image (a bucket's object, source
// inlined in the request, a base image): what came in, in words that say it is source code, not "unknown"; the
// deployer's object name as plain text only; next steps that fit a bucket or inlined source.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { renderPagerDuty } from '../../sinks/pagerduty.js';
import { renderScc } from '../../sinks/scc.js';
import { renderSlack } from '../../sinks/slack.js';
import { at, synthetic, variant, type Json } from '../support/entries.js';
import { findingsOf } from '../support/run.js';
import { SCC_TEST_SOURCE } from '../support/sccServer.js';
import { textObjects } from '../support/slackText.js';

const SOURCE = JSON.parse(readFileSync(new URL('../fixtures/source/synthetic-v2-UpdateService-source.json', import.meta.url), 'utf8')) as Json;
const CREATE = synthetic('v2-CreateService');
const HOME = 'europe-west1-docker.pkg.dev/acme-prod/web';
const HOSTILE_OBJECT = '<https://evil.example|Approve> *urgent* <!channel>.zip';
/** What a source type runwatch does not know held: never shown, only the field's name. */
const SECRET = 'ghp_0123456789abcdefghijklmnopqrstuvwxyzAB';

function withContainer(container: Record<string, unknown>): Json {
  return at(
    variant(SOURCE, (e) => {
      (((e.protoPayload['request'] as Json)['service'] as Json)['template'] as Json)['containers'] = [{ ...container, ports: [{ containerPort: 8080 }] }];
    }),
    '2024-06-02T10:00:00Z',
  );
}

const CASES = {
  bucket: withContainer({ sourceCode: { cloudStorageSource: { bucket: 'acme-src-drop', object: HOSTILE_OBJECT, generation: '42' } } }),
  inlined: withContainer({ sourceCode: { inlinedSource: {} } }),
  'base image': withContainer({ image: `${HOME}/storefront:2`, baseImageUri: 'ghcr.io/attacker/runtime:nodejs22' }),
  'unknown source': withContainer({ sourceCode: { gitSource: { url: 'https://github.com/attacker/app.git', token: SECRET } } }),
  'empty source': withContainer({ sourceCode: {} }),
  image: withContainer({ image: 'docker.io/attacker/storefront:1' }),
} as const;

async function findingFor(name: keyof typeof CASES): Promise<Finding> {
  const found = (await findingsOf([CREATE, CASES[name]])).filter((f) => f.rule === 'new-image-repository');
  expect(found).toHaveLength(1);
  return found[0]!;
}

function changeLine(finding: Finding): string | undefined {
  for (const block of renderSlack(finding, { channel: 'C1' }).blocks) {
    if (block.type === 'section' && block.text?.type === 'plain_text' && block.text.text.startsWith('Change: ')) return block.text.text.split('\n')[0];
  }
  return undefined;
}

describe('sinks: code deployed without an image', () => {
  it.each([
    ['bucket', `Change: ${HOME} → gs://acme-src-drop`],
    ['inlined', `Change: ${HOME} → source code inlined in the request`],
    ['base image', `Change: ${HOME} → ghcr.io/attacker (base image)`],
    ['unknown source', `Change: ${HOME} → source code runwatch cannot read`],
    ['empty source', `Change: ${HOME} → source code runwatch cannot read`],
    ['image', `Change: ${HOME} → docker.io/attacker`],
  ] as const)('Slack "Change:" line: %s', async (name, line) => {
    expect(changeLine(await findingFor(name))).toBe(line);
  });

  it('Slack shows the object as plain text only, never in a mrkdwn text', async () => {
    const texts = textObjects(renderSlack(await findingFor('bucket'), { channel: 'C1' }).blocks);
    expect(texts.some((t) => t.type === 'plain_text' && t.text.includes(`object: ${HOSTILE_OBJECT}`))).toBe(true);
    expect(texts.filter((t) => t.type === 'mrkdwn').some((t) => t.text.includes('evil.example') || t.text.includes('<!channel>'))).toBe(false);
  });

  it('PagerDuty carries the object as a JSON value, and the summary says code from a bucket', async () => {
    const event = renderPagerDuty(await findingFor('bucket'), { source: 'runwatch' });
    if (event.event_action !== 'trigger') throw new Error('expected a trigger');
    expect(event.payload.summary).toContain('Code from a bucket this service never used');
    expect(event.payload.summary).not.toContain('evil.example');
    expect((event.payload.custom_details['evidence'] as Record<string, unknown>)['object']).toBe(HOSTILE_OBJECT);
  });

  it.each([
    ['bucket', /bucket/, /image was built by your pipeline/],
    ['inlined', /inlined/, /add the repository/],
    ['base image', /base image/, /image was built by your pipeline/],
    ['unknown source', /cannot read[^]*Cloud Run console/, /image was built by your pipeline|add the (repository|bucket)/],
    ['empty source', /cannot read[^]*Cloud Run console/, /image was built by your pipeline|add the (repository|bucket)/],
  ] as const)('SCC next steps fit the source: %s', async (name, says, never) => {
    const steps = renderScc(await findingFor(name), SCC_TEST_SOURCE).nextSteps ?? '';
    expect(steps).toMatch(says);
    expect(steps).not.toMatch(never);
  });

  it('SCC next steps of an image finding are as before', async () => {
    expect(renderScc(await findingFor('image'), SCC_TEST_SOURCE).nextSteps).toMatch(/^Check that the image repository belongs to your organization and that the image was built by your pipeline; /);
  });

  it.each(['unknown source', 'empty source'] as const)('%s: Slack names the fields as plain text only; no sink shows what they held', async (name) => {
    const finding = await findingFor(name);
    const fields = name === 'unknown source' ? 'gitSource' : '(none)';
    const texts = textObjects(renderSlack(finding, { channel: 'C1' }).blocks);
    expect(texts.some((t) => t.type === 'plain_text' && t.text.includes(`sourceCodeFields: ${fields}`))).toBe(true);
    expect(texts.filter((t) => t.type === 'mrkdwn').some((t) => t.text.includes('sourceCodeFields'))).toBe(false);
    const event = renderPagerDuty(finding, { source: 'runwatch' });
    if (event.event_action !== 'trigger') throw new Error('expected a trigger');
    expect(event.payload.summary).toContain('Source code of a kind runwatch cannot read');
    expect((event.payload.custom_details['evidence'] as Record<string, unknown>)['sourceCodeFields']).toEqual(name === 'unknown source' ? ['gitSource'] : []);
    const scc = renderScc(finding, SCC_TEST_SOURCE);
    expect(String(scc.description)).toContain('where the source code came from');
    for (const payload of [renderSlack(finding, { channel: 'C1' }), event, scc]) {
      expect(JSON.stringify(payload)).not.toContain(SECRET);
      expect(JSON.stringify(payload)).not.toContain('attacker');
    }
  });

  it('an inlined source\'s unknown origin is said in words', async () => {
    const finding = await findingFor('inlined');
    expect(String(renderScc(finding, SCC_TEST_SOURCE).description)).toContain('where the source code came from');
  });
});
