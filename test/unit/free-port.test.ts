// The emulators (and the dev pipeline's functions) each get a port from freePort, several at the same moment: the
// kernel hands out a port again once the probe that found it closed, so two of them could be given the same one, and
// a second emulator that cannot bind would have the first one's "Ok" taken for its own readiness.
import { describe, expect, it } from 'vitest';
import { freePort } from '../../functions/dev/emulators.js';

/** A probe that reports the given ports in turn, as the kernel's port 0 might. */
function probeGiving(...ports: number[]): () => Promise<number> {
  return async () => {
    const port = ports.shift();
    if (port === undefined) throw new Error('the probe was asked once too often');
    return port;
  };
}

describe('freePort', () => {
  it('never hands out a port it handed out before in this process, though the kernel offers it again', async () => {
    const probe = probeGiving(41_001, 41_001, 41_002);
    const first = await freePort(probe);
    const second = await freePort(probe);
    expect([first, second]).toEqual([41_001, 41_002]);
  });

  it('gives real ports, each different', async () => {
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    expect(new Set(ports).size).toBe(20);
    for (const port of ports) expect(port).toBeGreaterThan(0);
  });
});
