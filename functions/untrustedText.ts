// Characters of untrusted text (anything a log entry carries: anyone who can deploy writes it) that must not reach
// a reader as they are. One list for every place such text is shown: Slack (sinks/slack.ts replaces them with
// U+FFFD) and the terminal (the CLI's table, its messages and its JSON output show them as `\u` escapes of four hex digits).

/**
 * Characters that break a line, hide, or turn text around: control (C0, C1; ANSI escapes start with ESC, C1 has
 * a one-character CSI); the Unicode line and paragraph separators U+2028/U+2029; bidi marks, overrides and
 * isolates; zero-width and other invisible format characters (soft hyphen, combining grapheme joiner, Mongolian
 * vowel separator, Khmer inherent vowels, the deprecated format controls U+206A-206F, interlinear annotations
 * U+FFF9-FFFB, BOM); the Hangul fillers U+115F, U+1160, U+3164, U+FFA0 and the blank Braille pattern U+2800, which
 * render as nothing yet count as letters; variation selectors; and the tag characters U+E0000-E007F, which can
 * carry a whole invisible text. Besides the list, every other Default_Ignorable_Code_Point (Unicode asks renderers
 * to show those invisibly: the musical beam and phrase controls U+1D173-1D17A, the shorthand format controls
 * U+1BCA0-1BCA3, and the reserved U+FFF0-FFF8 and U+E0080-E0FFF, which could carry hidden text as tags do).
 */
export const UNSAFE_CHARS =
  /[\u0000-\u001f\u007f-\u009f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\u2800\u3164\ufeff\uffa0\ufff9-\ufffb\u{e0000}-\u{e007f}\ufe00-\ufe0f\u{e0100}-\u{e01ef}\p{Default_Ignorable_Code_Point}]/gu;

/** A surrogate without its pair: not text at all. */
export const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** `c` as escapes valid in JavaScript and JSON strings alike: `\u` and four hex digits per UTF-16 unit (ESC as `\u001b`). */
export function unicodeEscape(c: string): string {
  let out = '';
  for (let i = 0; i < c.length; i++) out += `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return out;
}

/**
 * `text` for a terminal: every control, line-separating, bidi and invisible character (UNSAFE_CHARS) and every
 * lone surrogate shown as JavaScript escapes (ESC as `\u001b`).
 */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE_CHARS, unicodeEscape).replace(LONE_SURROGATE, unicodeEscape);
}

/**
 * `text` for a reader who sees it rendered (a Slack message, a PagerDuty incident title, its push notification): every
 * control, line-separating, bidi and invisible character and every lone surrogate becomes U+FFFD, which shows that
 * something was there without doing what it was meant to (break a line, turn text around, hide characters).
 */
export function visibleText(text: string): string {
  return text.replace(UNSAFE_CHARS, '\ufffd').replace(LONE_SURROGATE, '\ufffd');
}

/**
 * JSON text for a terminal: JSON.stringify already escapes C0 controls and lone surrogates, but leaves C1 controls
 * (U+009B is a one-character CSI), DEL, line separators, bidi and invisible characters as they are. They can only
 * stand inside strings, where the same `\u` escapes keep the JSON valid and its values unchanged.
 */
export function jsonTerminalSafe(json: string): string {
  // C0 stays: inside strings JSON.stringify escaped it already; outside them it is the indentation's line breaks.
  return json.replace(UNSAFE_CHARS, (c) => (c < ' ' ? c : unicodeEscape(c)));
}

/**
 * The first `max` UTF-16 units of `text`, one fewer when the cut would split a surrogate pair: half of a pair is not
 * Unicode, has no UTF-8 encoding, and makes protobuf writers emit invalid UTF-8 and strict JSON parsers refuse the
 * lone `\ud83d`-style escape (an emoji in a user agent then lost the finding at SCC, PagerDuty or a webhook).
 */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  const code = text.charCodeAt(max - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

/** At most `max` UTF-16 units: cut (never inside a surrogate pair) with an ellipsis saying so. */
export function truncatePlain(text: string, max: number): string {
  return text.length <= max ? text : `${cutText(text, max - 1)}…`;
}

/**
 * What JSON.parse's error says of a text that is not JSON, without the text: V8 words an unexpected token with the
 * characters around it (`Unexpected token 's', ..."value": s3cr3t-pw-"... is not valid JSON`, all of a short text),
 * which may be a secret beside the break. Messages that name a position only are kept as they are.
 */
export function jsonSyntaxProblem(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const quoted = message.search(/(?:^|, )(?:\.\.\.)?"/);
  if (quoted === -1) return message;
  return quoted === 0 ? 'not valid JSON' : message.slice(0, quoted).replace(/^Unexpected token '[^]*'$/, 'Unexpected token');
}
