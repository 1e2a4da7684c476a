// The console sink: one JSON line per finding on a writable stream (stdout in the functions, where Cloud Logging
// picks it up as a structured entry; a terminal under `npm run dev` or a developer's shell). Untrusted text leaves
// as `\u` escapes where it could act on a terminal (C1 controls, bidi overrides, line separators): the same JSON
// values for Cloud Logging. Cloud Logging decodes them, so the `message` (the entry's summary line in Logs Explorer,
// the text of log-based alert notifications) shows what breaks a line, hides or turns text around as U+FFFD
// (visibleText), as Slack and PagerDuty do; the `finding` keeps the values as the entry had them. A resolution's
// message reads `[runwatch] Resolved: title: reason (by principal at time)`, never the original alert again.
import type { Writable } from 'node:stream';
import type { Finding } from '../functions/findings/finding.js';
import type { LogSeverity } from '../functions/runtime.js';
import { jsonTerminalSafe, visibleText } from '../functions/untrustedText.js';
import { isResolution } from './deliver.js';
import type { DeliveryResult, Sink } from './sink.js';

function renderConsole(finding: Finding): string {
  return jsonTerminalSafe(JSON.stringify({ severity: logSeverity(finding), message: visibleText(messageOf(finding)), finding }));
}

/**
 * Cloud Logging's severity of the line: a finding's by its own; a resolution's INFO, below every finding's (NOTICE for
 * LOW), so a log-based alert on a level does not page again for the close of what it paged for. The finding keeps its
 * severity in `finding`.
 */
function logSeverity(finding: Finding): LogSeverity {
  if (isResolution(finding)) return 'INFO';
  return finding.severity === 'LOW' ? 'NOTICE' : finding.severity === 'MEDIUM' ? 'WARNING' : finding.severity === 'HIGH' ? 'ERROR' : 'CRITICAL';
}

/** The line's summary: the alert, or for a resolution its close (why, who, when), as Slack's thread reply says it. */
function messageOf(finding: Finding): string {
  const r = finding.resolution;
  if (isResolution(finding)) return r ? `[runwatch] Resolved: ${finding.title}: ${r.reason} (by ${r.principal} at ${r.time})` : `[runwatch] Resolved: ${finding.title}`;
  return `[runwatch] ${finding.title}: ${finding.summary}`;
}

export class ConsoleSink implements Sink {
  readonly name = 'console';
  constructor(private readonly out: Writable) {}

  deliver(finding: Finding): Promise<DeliveryResult> {
    return new Promise((resolve) => {
      this.out.write(`${renderConsole(finding)}\n`, (error) =>
        resolve(error ? { status: 'failed', retryable: true, reason: error.message } : { status: 'delivered' }),
      );
    });
  }
}
