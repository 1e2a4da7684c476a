// SIGINT (Ctrl-C) and SIGTERM (a service manager, `timeout`) end a Node process at once, without running any
// `finally`: a `replay --state` stopped so left its lock file behind, and every later replay refused to start.
// While a command holds such a thing, these signals let it go first, then end the process with 128 + the
// signal's number (130, 143), the code a shell reports for a process a signal ended.

const EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

/**
 * Until the returned function is called, SIGINT and SIGTERM run `cleanup`, then exit. A second signal while it
 * runs exits at once.
 */
export function exitOnSignal(cleanup: () => Promise<unknown>): () => void {
  let cleaning = false;
  const offs = Object.entries(EXIT_CODES).map(([signal, code]) => {
    const handler = (): void => {
      if (cleaning) process.exit(code);
      cleaning = true;
      void cleanup()
        .catch(() => undefined)
        .finally(() => process.exit(code));
    };
    process.on(signal, handler);
    return (): void => void process.off(signal, handler);
  });
  return () => offs.forEach((off) => off());
}
