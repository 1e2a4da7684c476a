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
