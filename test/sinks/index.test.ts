import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/config/load.js';
import { createSink, isSinkName, SINK_NAMES, SinkConfigurationError, type SinkName } from '../../sinks/index.js';

const config = parseConfig(`
sinks:
  console: {}
  webhook: { timeoutSeconds: 3 }
  scc: {}
  slack: { channel: "#security-alerts" }
  pagerduty: { source: "runwatch-prod" }
`);

const FULL_ENV = {
  WEBHOOK_URL: 'https://hooks.example/runwatch',
  WEBHOOK_SECRET: 'whsec-value-1',
  SCC_SOURCE: 'organizations/1/sources/2',
  SLACK_BOT_TOKEN: 'xoxb-value-2',
  PAGERDUTY_ROUTING_KEY: 'R0UT1NGKEY0123456789abcdefABCDEF',
};

describe('createSink', () => {
  it.each(SINK_NAMES)('builds %s from the environment', async (name) => {
    const sink = await createSink(name, FULL_ENV, config);
    expect(sink.name).toBe(name);
    expect(typeof sink.deliver).toBe('function');
  });

  it.each<[SinkName, string]>([
    ['webhook', 'WEBHOOK_URL, WEBHOOK_SECRET'],
    ['scc', 'SCC_SOURCE'],
    ['slack', 'SLACK_BOT_TOKEN'],
    ['pagerduty', 'PAGERDUTY_ROUTING_KEY'],
  ])('%s names the missing environment variables', async (name, missing) => {
    const error = await createSink(name, {}, config).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SinkConfigurationError);
    expect((error as Error).message).toContain(missing);
  });

  it('treats a blank secret as missing', async () => {
    await expect(createSink('pagerduty', { PAGERDUTY_ROUTING_KEY: '  ' }, config)).rejects.toThrow('the pagerduty sink needs the environment variable PAGERDUTY_ROUTING_KEY');
  });

  it('rejects malformed values without echoing them', async () => {
    const bad = [
      createSink('scc', { ...FULL_ENV, SCC_SOURCE: 'projects/secret-project/sources/x' }, config),
      createSink('webhook', { ...FULL_ENV, WEBHOOK_URL: 'ftp://secret-host/x' }, config),
      createSink('pagerduty', { ...FULL_ENV, PAGERDUTY_EVENTS_URL: 'secret-host' }, config),
      createSink('scc', { ...FULL_ENV, SCC_API_ENDPOINT: 'secret-host:99999' }, config),
    ];
    for (const attempt of bad) {
      const error = (await attempt.catch((e: unknown) => e)) as Error;
      expect(error).toBeInstanceOf(SinkConfigurationError);
      expect(error.message).not.toContain('secret');
    }
  });

  it('the Slack sink needs a channel in the config', async () => {
    const noChannel = parseConfig('sinks: { slack: {} }');
    await expect(createSink('slack', FULL_ENV, noChannel)).rejects.toThrow(/sinks\.slack\.channel/);
    const byRule = parseConfig('sinks: { slack: { channelsByRule: { off-window-deploy: "#deploys" } } }');
    await expect(createSink('slack', FULL_ENV, byRule)).resolves.toMatchObject({ name: 'slack' });
  });

  it('no error ever contains a secret value', async () => {
    const messages: string[] = [];
    for (const name of SINK_NAMES) {
      for (const variable of Object.keys(FULL_ENV)) {
        const env = { ...FULL_ENV, [variable]: '' };
        await createSink(name, env, parseConfig('sinks: { slack: {} }')).catch((e: unknown) => messages.push(String(e)));
      }
    }
    expect(messages.length).toBeGreaterThan(0);
    for (const value of Object.values(FULL_ENV)) expect(messages.join('\n')).not.toContain(value);
  });

  it('rejects an unknown sink name', async () => {
    await expect(createSink('email' as SinkName, FULL_ENV, config)).rejects.toThrow(/unknown sink "email"; expected one of console, webhook, scc, slack, pagerduty/);
    expect(isSinkName('slack')).toBe(true);
    expect(isSinkName('toString')).toBe(false);
  });
});
