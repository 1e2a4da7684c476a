// The text objects of a Block Kit message (mrkdwn and plain_text, at any depth): what Slack shows, for the tests that
// check no hostile markup reaches a mrkdwn text.

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
