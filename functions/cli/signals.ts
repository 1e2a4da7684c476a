// SIGINT (Ctrl-C) and SIGTERM (a service manager, `timeout`) end a Node process at once, without running any
// `finally`: a `replay --state` stopped so left its lock file behind, and every later replay refused to start.
// While a command holds such a thing, these signals let it go first, then end the process with 128 + the
// signal's number (130, 143), the code a shell reports for a process a signal ended.

const EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

export interface SignalExit {
  /** Stops listening: the command is done. */
  off(): void;
  /** A signal came: its cleanup runs, and the process ends with the signal's code once it has. */
  readonly stopping: boolean;
  /**
   * For a command that meets an end while a signal's cleanup runs: never settles, so the signal's code is the exit
   * code. Its cleanup can end the command's work early (a named pipe's open released reads as an empty input, the
   * state file let go cannot be written), and that end was reported as a failure with exit 1 before the cleanup's
   * own exit came (seen under load).
   */
  exiting(): Promise<never>;
}

/**
 * Until `off` is called, SIGINT and SIGTERM run `cleanup`, then exit. A second signal while it runs exits at once.
 */
export function exitOnSignal(cleanup: () => Promise<unknown>): SignalExit {
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
  return {
    off: () => offs.forEach((off) => off()),
    get stopping() {
      return cleaning;
    },
    exiting: () => new Promise<never>(() => undefined),
  };
}
