import { PassThrough } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sccCommand } from '../../functions/cli/commands/scc.js';
import { startSccServer, type SccServer } from '../support/sccServer.js';

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function run(args: readonly string[], env: Readonly<Record<string, string | undefined>>): Promise<Run> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: string[] = [];
  const err: string[] = [];
  stdout.on('data', (c: Buffer) => out.push(c.toString()));
  stderr.on('data', (c: Buffer) => err.push(c.toString()));
  const code = await sccCommand.run(args, { stdin: new PassThrough(), stdout, stderr, env });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

describe('runwatch scc create-source', () => {
  let server: SccServer;
  beforeAll(async () => {
    server = await startSccServer();
  });
  afterAll(() => server.close());
  beforeEach(() => server.reset());

  it('creates the source and prints its name for SCC_SOURCE', async () => {
    const result = await run(['create-source', '--organization', '123456789012', '--display-name', 'runwatch prod'], { SCC_API_ENDPOINT: server.endpoint });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^organizations\/123456789012\/sources\/\d+\n$/);
    expect(result.stderr).toContain(`SCC_SOURCE=${result.stdout.trim()}`);
    expect(server.calls[0]?.request).toMatchObject({
      parent: 'organizations/123456789012',
      source: { displayName: 'runwatch prod', description: 'Risky Cloud Run changes found in Cloud Audit Logs by runwatch.' },
    });
  });

  it('accepts organizations/ID and --flag=value', async () => {
    const result = await run(['create-source', '--organization=organizations/42'], { SCC_API_ENDPOINT: server.endpoint });
    expect(result.code).toBe(0);
    expect(server.calls[0]?.request).toMatchObject({ parent: 'organizations/42', source: { displayName: 'runwatch' } });
  });

  it.each([
    [[], /missing subcommand/],
    [['delete-source'], /unknown subcommand "delete-source"/],
    [['create-source'], /--organization is required/],
    [['create-source', '--organization', 'acme.com'], /numeric organization id/],
    [['create-source', '--organization', '1', '--display-name', 'x'.repeat(65)], /1 to 64/],
    [['create-source', '--organization', '1', '--colour', 'red'], /colour/],
    [['create-source', '--organization', '1', 'extra'], /extra/],
  ] as const)('usage error %j exits 2 with the usage', async (args, message) => {
    const result = await run(args, { SCC_API_ENDPOINT: server.endpoint });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toContain('usage: runwatch scc create-source');
    expect(server.calls).toHaveLength(0);
  });

  it('a failing API call exits 1 with the reason', async () => {
    server.fail('CreateSource', { code: grpc.status.PERMISSION_DENIED, details: 'caller lacks securitycenter.sources.update' });
    const result = await run(['create-source', '--organization', '1'], { SCC_API_ENDPOINT: server.endpoint });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('PERMISSION_DENIED: caller lacks securitycenter.sources.update');
    expect(result.stdout).toBe('');
  });

  it("the API's error text is shown escaped on the terminal (the server writes it)", async () => {
    server.fail('CreateSource', { code: grpc.status.PERMISSION_DENIED, details: 'denied \u001b[2J\u009b31m\u202eoops' });
    const result = await run(['create-source', '--organization', '1'], { SCC_API_ENDPOINT: server.endpoint });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('denied \\u001b[2J');
    expect(result.stderr).not.toMatch(/[\u001b\u009b\u202e]/);
  });

  it('a malformed SCC_API_ENDPOINT is a usage error', async () => {
    const result = await run(['create-source', '--organization', '1'], { SCC_API_ENDPOINT: 'host:0' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('SCC_API_ENDPOINT must be host or host:port');
  });
});
