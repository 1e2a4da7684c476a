// A call's outcome within a time bound: the CLI's commands give up on a client library call that does not answer
// (the libraries retry for minutes, saying nothing) instead of waiting on it.

/** `work`'s outcome, or undefined once `ms` have passed without it (the timer goes with the outcome). */
export async function within<T>(work: Promise<T>, ms: number): Promise<{ readonly answer: T } | { readonly error: unknown } | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(resolve, ms, undefined)));
  try {
    return await Promise.race([work.then((answer) => ({ answer }), (error: unknown) => ({ error })), late]);
  } finally {
    clearTimeout(timer);
  }
}
