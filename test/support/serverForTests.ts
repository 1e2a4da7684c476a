// A local protocol server for the tests of a file (or of the describe block that calls it): started before them,
// reset before each, closed after. The object returned stands for the server once it is started (reads, calls and
// assignments go to it), so a test file writes `const server = slackServerForTests()` instead of the four hooks.
import { afterAll, beforeAll, beforeEach } from 'vitest';

export function serverForTests<T extends { reset(): void }>(start: () => Promise<T>, close: (server: T) => unknown): T {
  let server: T | undefined;
  beforeAll(async () => {
    server = await start();
  });
  afterAll(() => (server ? close(server) : undefined));
  beforeEach(() => server!.reset());
  return new Proxy({} as T, {
    get(_target, key) {
      const value: unknown = Reflect.get(server!, key);
      return typeof value === 'function' ? value.bind(server) : value;
    },
    set(_target, key, value) {
      return Reflect.set(server!, key, value);
    },
  });
}
