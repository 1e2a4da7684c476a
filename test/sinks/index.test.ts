import { describe, expect, it } from 'vitest';
import { makeFinding } from '../support/findings.js';
import { PAGERDUTY_TEST_ROUTING_KEY, startPagerDutyServer } from '../support/pagerdutyServer.js';
import { SLACK_TEST_TOKEN, startSlackServer } from '../support/slackServer.js';
import { startWebhookServer } from '../support/webhookServer.js';
import { parseConfig } from '../../functions/config/load.js';
import type { RunwatchConfig } from '../../functions/config/types.js';
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

  it.each([
    ['a key one character short', 'secret0123456789abcdefABCDEF012'],
    ['a service key pasted instead (longer)', 'secret0123456789abcdefABCDEF01234567'],
    ['a key with a space added (33 characters)', 'secret0123456789abcdef ABCDEF0123'],
  ])('refuses a PagerDuty routing key that is not 32 characters: %s, without echoing it', async (_name, key) => {
    const error = (await createSink('pagerduty', { ...FULL_ENV, PAGERDUTY_ROUTING_KEY: key }, config).catch((e: unknown) => e)) as SinkConfigurationError;
    expect(error).toBeInstanceOf(SinkConfigurationError);
    expect(error.message).toMatch(/^PAGERDUTY_ROUTING_KEY must be the 32-character integration key/);
    expect(error.path).toBe('env.PAGERDUTY_ROUTING_KEY');
    expect(error.message).not.toContain('secret');
  });

  it('treats a blank secret as missing', async () => {
    await expect(createSink('pagerduty', { PAGERDUTY_ROUTING_KEY: '  ' }, config)).rejects.toThrow('the pagerduty sink needs the environment variable PAGERDUTY_ROUTING_KEY');
  });

  it('rejects malformed values without echoing them', async () => {
    const bad = [
      createSink('scc', { ...FULL_ENV, SCC_SOURCE: 'projects/secret-project/sources/x' }, config),
      createSink('webhook', { ...FULL_ENV, WEBHOOK_URL: 'ftp://secret-host/x' }, config),
      createSink('pagerduty', { ...FULL_ENV, PAGERDUTY_EVENTS_URL: 'secret-host' }, config),
      createSink('slack', { ...FULL_ENV, SLACK_API_URL: 'secret-host/api/' }, config),
      createSink('slack', { ...FULL_ENV, SLACK_API_URL: 'file:///secret/api/' }, config),
      createSink('scc', { ...FULL_ENV, SCC_API_ENDPOINT: 'secret-host:99999' }, config),
    ];
    for (const attempt of bad) {
      const error = (await attempt.catch((e: unknown) => e)) as Error;
      expect(error).toBeInstanceOf(SinkConfigurationError);
      expect(error.message).not.toContain('secret');
    }
  });

  // The Slack token and the PagerDuty routing key travel with every request: plain http only to a loopback host (a
  // local test server), as for the gRPC endpoints (functions/grpcEndpoint.ts) and LOGGING_API_ENDPOINT.
  it.each([
    ['pagerduty', 'PAGERDUTY_EVENTS_URL', 'http://events.eu.pagerduty.com/v2/enqueue'],
    ['pagerduty', 'PAGERDUTY_EVENTS_URL', 'http://10.0.0.7:8080/v2/enqueue'],
    ['slack', 'SLACK_API_URL', 'http://slack-gov.com/api/'],
    ['slack', 'SLACK_API_URL', 'http://proxy.internal/api/'],
  ] as const)('refuses %s over plain http to a host that is not loopback (%s=%s)', async (sink, variable, url) => {
    const error = (await createSink(sink, { ...FULL_ENV, [variable]: url }, config).catch((e: unknown) => e)) as SinkConfigurationError;
    expect(error).toBeInstanceOf(SinkConfigurationError);
    expect(error.path).toBe(`env.${variable}`);
    expect(error.message).toContain('loopback');
  });

  it.each([
    ['pagerduty', 'PAGERDUTY_EVENTS_URL', 'https://events.eu.pagerduty.com/v2/enqueue'],
    ['pagerduty', 'PAGERDUTY_EVENTS_URL', 'http://127.0.0.1:8080/v2/enqueue'],
    ['pagerduty', 'PAGERDUTY_EVENTS_URL', 'http://[::1]:8080/v2/enqueue'],
    ['slack', 'SLACK_API_URL', 'https://slack-gov.com/api/'],
    ['slack', 'SLACK_API_URL', 'http://localhost:3000/api/'],
  ] as const)('accepts %s at %s=%s', async (sink, variable, url) => {
    await expect(createSink(sink, { ...FULL_ENV, [variable]: url }, parseConfig('sinks: { slack: { channel: "#sec" } }'))).resolves.toMatchObject({ name: sink });
  });

  it('the Slack sink needs a channel in the config', async () => {
    // The config check refuses such a section (config.test.ts); the sink does not rely on it.
    expect(() => parseConfig('sinks: { slack: {} }')).toThrow(/sinks\.slack: no channel/);
    const noChannel = { ...parseConfig(''), sinks: { slack: { minSeverity: 'LOW' } } } as RunwatchConfig;
    await expect(createSink('slack', FULL_ENV, noChannel)).rejects.toThrow(/sinks\.slack\.channel/);
    const byRule = parseConfig('sinks: { slack: { rules: [off-window-deploy], channelsByRule: { off-window-deploy: "#deploys" } } }');
    await expect(createSink('slack', FULL_ENV, byRule)).resolves.toMatchObject({ name: 'slack' });
  });

  it('no error ever contains a secret value', async () => {
    const messages: string[] = [];
    for (const name of SINK_NAMES) {
      for (const variable of Object.keys(FULL_ENV)) {
        const env = { ...FULL_ENV, [variable]: '' };
        await createSink(name, env, parseConfig('sinks: { slack: { channel: "#sec" } }')).catch((e: unknown) => messages.push(String(e)));
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

// `echo KEY | gcloud secrets create --data-file=-` stores the key with its newline, and Secret Manager hands it to
// the function as is: the secrets are read without surrounding white space, so every page is not dead-lettered as
// "Invalid routing key", and an answer echoing the key is scrubbed of it.
describe('secrets with surrounding white space', () => {
  it('a PagerDuty routing key with a trailing newline pages, with the bare key', async () => {
    const pd = await startPagerDutyServer();
    try {
      const sink = await createSink('pagerduty', { PAGERDUTY_ROUTING_KEY: `${PAGERDUTY_TEST_ROUTING_KEY}\n`, PAGERDUTY_EVENTS_URL: pd.eventsUrl }, config);
      expect(await sink.deliver(makeFinding('public-invoker-grant'), { deadlineMs: Date.now() + 5_000 })).toMatchObject({ status: 'delivered' });
      expect(pd.events().map((e) => e['routing_key'])).toEqual([PAGERDUTY_TEST_ROUTING_KEY]);
    } finally {
      await pd.close();
    }
  });

  it('an echo of the routing key is scrubbed when the variable had a trailing newline', async () => {
    const pd = await startPagerDutyServer();
    try {
      pd.script({ status: 400, body: { status: 'invalid event', message: 'Event object is invalid', errors: [`Invalid routing key ${PAGERDUTY_TEST_ROUTING_KEY}`] } });
      const sink = await createSink('pagerduty', { PAGERDUTY_ROUTING_KEY: `  ${PAGERDUTY_TEST_ROUTING_KEY}\r\n`, PAGERDUTY_EVENTS_URL: pd.eventsUrl }, config);
      const result = await sink.deliver(makeFinding('public-invoker-grant'), { deadlineMs: Date.now() + 5_000 });
      expect(result.status).toBe('failed');
      expect(JSON.stringify(result)).not.toContain(PAGERDUTY_TEST_ROUTING_KEY);
    } finally {
      await pd.close();
    }
  });

  it('a webhook secret with a trailing newline signs with the bare secret (README: receivers trim it too)', async () => {
    const receiver = await startWebhookServer('whsec-bare');
    try {
      const sink = await createSink('webhook', { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: 'whsec-bare\n' }, config);
      expect(await sink.deliver(makeFinding('public-invoker-grant'), { deadlineMs: Date.now() + 5_000 })).toMatchObject({ status: 'delivered' });
      expect(receiver.requests.map((r) => receiver.verify(r))).toEqual([true]);
    } finally {
      await receiver.close();
    }
  });

  it('a Slack token with a trailing newline is sent bare', async () => {
    const slack = await startSlackServer();
    try {
      const sink = await createSink('slack', { SLACK_BOT_TOKEN: `${SLACK_TEST_TOKEN}\n`, SLACK_API_URL: slack.apiUrl }, config);
      expect(await sink.deliver(makeFinding('public-invoker-grant'), { deadlineMs: Date.now() + 5_000 })).toMatchObject({ status: 'delivered' });
      expect(slack.posts().map((p) => p.token)).toEqual([SLACK_TEST_TOKEN]);
    } finally {
      await slack.close();
    }
  });
});

