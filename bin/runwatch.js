#!/usr/bin/env node
// Thin launcher: the CLI is written in TypeScript and compiled to dist/ (`npm run build`; published packages ship it).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/functions/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('runwatch: not built yet; run `npm run build` in the package directory first.\n');
  process.exit(1);
}
// Without credentials every command that needs them says so in one line of its own. google-auth asks the GCE
// metadata server last, and where none answers as one (a laptop, CI) gcp-metadata adds a Node warning
// ("MetadataLookupWarning: received unexpected error = All promises were rejected code = UNKNOWN") that tells the
// user nothing more. Node prints warnings from a 'warning' listener: that one warning is kept from it, every other
// is printed as before (and --no-warnings, --disable-warning still apply, inside Node's own listener).
const printWarning = process.listeners('warning');
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning?.name === 'MetadataLookupWarning') return;
  for (const listener of printWarning) listener.call(process, warning);
});
const { main } = await import(entry.href);
const code = await main(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
// Every command has finished its work (and closed its clients) when main returns. What is left are timers the client
// libraries do not clear (gax retries of a call already failed, gRPC reconnect backoff), which held the process open
// for seconds after its last line. Exit once stdout and stderr have written out what they hold.
await Promise.all([process.stdout, process.stderr].map(flushed));
process.exit(code);

/** Resolves when `stream` holds nothing unwritten, or can no longer write (a closed pipe). */
function flushed(stream) {
  return new Promise((resolve) => {
    if (stream.writableLength === 0 || stream.destroyed) return resolve();
    stream.once('drain', resolve).once('error', resolve).once('close', resolve);
  });
}
