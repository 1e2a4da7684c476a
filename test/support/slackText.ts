// The text objects of a Block Kit message (mrkdwn and plain_text, at any depth): what Slack shows, for the tests that
// check no hostile markup reaches a mrkdwn text; and the value of one of its labelled fields.
import type { Finding } from '../../functions/findings/finding.js';
import { renderSlack } from '../../sinks/slack.js';

export interface TextObject {
  readonly type: string;
  readonly text: string;
}

export function textObjects(value: unknown, out: TextObject[] = []): TextObject[] {
  if (Array.isArray(value)) for (const item of value) textObjects(item, out);
  else if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if ((v['type'] === 'mrkdwn' || v['type'] === 'plain_text') && typeof v['text'] === 'string') out.push(v as unknown as TextObject);
    for (const child of Object.values(v)) textObjects(child, out);
  }
  return out;
}

/** The value next to a field's label (`*What*`, `*Who*`) in the Slack message of `finding`. */
export function slackField(finding: Finding, label: string): string | undefined {
  for (const block of renderSlack(finding, { channel: 'C1' }).blocks) {
    if (block.type !== 'section' || !block.fields) continue;
    const at = block.fields.findIndex((f) => f.text === `*${label}*`);
    if (at >= 0) return block.fields[at + 1]?.text;
  }
  return undefined;
}
