// vpc-egress-bypass's finding for all-traffic egress moved to another network or connector, as the sinks show it:
// the destinations before and after (deployer-written names: plain text only in Slack), and SCC next steps that send
// the traffic back through the earlier destination (the egress setting itself did not change).
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { renderPagerDuty } from '../../sinks/pagerduty.js';
import { renderScc } from '../../sinks/scc.js';
import { renderSlack } from '../../sinks/slack.js';
import { at, editV1Services, synthetic, withOperationId, type Json } from '../support/entries.js';
import { findingsOf } from '../support/run.js';
import { SCC_TEST_SOURCE } from '../support/sccServer.js';
import { textObjects } from '../support/slackText.js';

const HOSTILE_CONNECTOR = '<!channel> *urgent* <https://evil.example|click>';

/** The gcloud v1 fixture at `time`, sending all traffic through `connector`. */
function allTrafficThrough(time: string, connector: string): Json {
  const entry = editV1Services(synthetic('v1-ReplaceService-gcloud'), (svc) => {
    const template = (svc['spec'] as Record<string, Record<string, Record<string, unknown>>>)['template']!;
    template['spec']!['containers'] = [{ image: `gcr.io/acme/app:${time}` }];
    const meta = template['metadata']!;
    meta['annotations'] = { ...(meta['annotations'] as Record<string, string> | undefined), 'run.googleapis.com/vpc-access-connector': connector, 'run.googleapis.com/vpc-access-egress': 'all-traffic' };
  });
  return at(withOperationId(entry, `op-${time}`), time);
}

async function egressFindings(connectors: readonly string[]): Promise<Finding[]> {
  const entries = connectors.map((connector, i) => allTrafficThrough(`2024-05-04T1${i}:00:00Z`, connector));
  return (await findingsOf(entries)).filter((f) => f.rule === 'vpc-egress-bypass');
}

describe('vpc-egress-bypass: all-traffic egress moved, in the sinks', () => {
  it('SCC next steps send the traffic back through the earlier network or connector', async () => {
    const [moved] = await egressFindings(['egress', 'open']);
    expect(moved).toBeDefined();
    const steps = renderScc(moved!, SCC_TEST_SOURCE).nextSteps ?? '';
    expect(steps).toMatch(/^Confirm the service is meant to send its traffic through /);
    expect(steps).toContain('--vpc-connector');
    expect(steps).toContain('--network');
    expect(steps).not.toContain('--vpc-egress all-traffic');
  });

  it('PagerDuty names the move in its summary and carries both destinations', async () => {
    const [moved] = await egressFindings(['egress', 'open']);
    const event = renderPagerDuty(moved!, { source: 'runwatch' });
    expect(JSON.stringify(event)).toContain('Cloud Run egress moved to another network or connector');
    expect(JSON.stringify(event)).toContain('connectors/egress');
    expect(JSON.stringify(event)).toContain('connectors/open');
  });

  it('Slack shows a deployer-written connector name as plain text only', async () => {
    const [moved] = await egressFindings(['egress', HOSTILE_CONNECTOR]);
    expect(moved).toBeDefined();
    const texts = textObjects(renderSlack(moved!, { channel: 'C0SECURITY', sccSource: SCC_TEST_SOURCE }));
    expect(texts.some((t) => t.type === 'plain_text' && t.text.includes(HOSTILE_CONNECTOR))).toBe(true);
    expect(texts.filter((t) => t.type === 'mrkdwn' && (t.text.includes('<!channel>') || t.text.includes('evil.example')))).toEqual([]);
  });
});
