// Plain-text helpers the sinks share. They import no sink: a sink uses them without loading another sink's client
// library (slack.ts loads @slack/web-api as it is imported).

export function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/**
 * `text` with each lone surrogate (half of a pair: not Unicode, so it has no UTF-8 encoding) replaced by U+FFFD.
 * A value cut by UTF-16 units upstream can end in one; protobufjs would write it as bytes that are not UTF-8 (which
 * SCC, like every proto3 server, refuses) and JSON.stringify as an escape such as `\ud83d` that strict JSON parsers refuse.
 */
export function wellFormed(text: string): string {
  return text.toWellFormed();
}

/** A reader's words for the ids of a finding's `unknown` facts (the finding keeps the ids: a contract field). */
const UNKNOWN_FACT_WORDS: Readonly<Record<string, string>> = {
  serviceAccount: 'runtime service account',
  location: 'region',
  repository: 'image repository',
  source: 'where the source code came from (inlined in the request, no valid bucket named, or a source runwatch cannot read)',
  'admin write': "the deploy's admin write (only its revision's system events were seen)",
};

/**
 * The line that names what a finding could not check, in words; undefined when it checked everything. Not "not in the
 * audit entry": a deploy known from its system events alone, and a finding reported for a newer write (whose entry is
 * not kept), miss facts for other reasons.
 */
export function unknownFactsLine(unknown: readonly string[]): string | undefined {
  if (unknown.length === 0) return undefined;
  return `Not known, so not checked: ${unknown.map((fact) => UNKNOWN_FACT_WORDS[fact] ?? fact).join(', ')}`;
}

/**
 * What a finding's Logs Explorer link shows: its entry, found by insertId or log name and time; or, for a finding with
 * neither (reported on behalf of a newer write whose entry is not kept), the project's entries at its time, which may
 * be several (findings/enrich.ts linksOf).
 */
export function logEntryLinkText(finding: { readonly insertId: string; readonly logName: string }): string {
  return finding.insertId || finding.logName ? 'Audit log entry' : 'Audit log entries at that time';
}

const CONSOLE_HOST = 'console.cloud.google.com';

/**
 * `url` as a URL parser writes it (every character outside printable ASCII, and space, quotes and angle brackets,
 * percent-encoded), with the printable characters RFC 3986 does not allow in a path or query (`|`, `^`, backtick,
 * braces, square brackets, backslash), which the parser leaves, percent-encoded too: a well formed URL (what SCC's
 * external_uri must be). Only for an https URL on the Cloud Console without user info or port, at most `maxLength`
 * characters long; otherwise undefined. The links a finding carries are built by findings/enrich.ts from names
 * anyone who can deploy writes, and reach a sink off the findings topic, where only the fields routing needs are
 * checked: a sink that makes them clickable takes only its own kind of URL, and leaves out one too long to be
 * kept whole (a cut URL opens another page).
 */
export function consoleUrl(url: string | undefined, maxLength: number): string | undefined {
  if (!url) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url.toWellFormed());
  } catch {
    return undefined;
  }
  if (!onConsoleHost(parsed) || parsed.port !== '') return undefined;
  const href = parsed.href.replace(/[|^`{}[\]\\]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return href.length <= maxLength && /^[\x21-\x7e]+$/.test(href) ? href : undefined;
}

/** An https URL on the Cloud Console without user info: the only host a sink links to (consoleUrl, Slack's links). */
export function onConsoleHost(parsed: URL): boolean {
  return parsed.protocol === 'https:' && parsed.hostname === CONSOLE_HOST && parsed.username === '' && parsed.password === '';
}
