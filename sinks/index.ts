// The sink registry. `notify` (RUNWATCH_SINK) and the CLI build a sink by name; each entry imports its module only
// when asked (cold start: the SCC client alone costs ~0.3 s and Slack's pulls in axios). Required environment
// variables are checked before anything is imported, and the error names the missing variable, never a value.
// Secrets (SLACK_BOT_TOKEN, PAGERDUTY_ROUTING_KEY, WEBHOOK_SECRET) come only from `env`: in Cloud Functions, Secret
// Manager secrets arrive as environment variables.
import type { RunwatchConfig } from '../functions/config/types.js';
import type { Sink } from './sink.js';
import { isLoopback } from '../functions/grpcEndpoint.js';

export type SinkName = 'console' | 'webhook' | 'scc' | 'slack' | 'pagerduty';

export const SINK_NAMES = ['console', 'webhook', 'scc', 'slack', 'pagerduty'] as const satisfies readonly SinkName[];

export function isSinkName(value: string): value is SinkName {
  return (SINK_NAMES as readonly string[]).includes(value);
}

export type SinkEnv = Readonly<Record<string, string | undefined>>;

/** A sink cannot be built from this environment and config; the message says what to set. */
export class SinkConfigurationError extends Error {
  override readonly name = 'SinkConfigurationError';

  /** Where the problem is, as start-up logs name it: `env.SLACK_API_URL`, `sinks.slack`; undefined: the sink itself. */
  constructor(
    message: string,
    readonly path?: string,
  ) {
    super(message);
  }
}

interface SinkDefinition {
  /** Checked before the module is imported. */
  readonly requiredEnv: readonly string[];
  create(env: SinkEnv, config: RunwatchConfig): Promise<Sink>;
}

const DEFAULT_WEBHOOK_TIMEOUT_SECONDS = 10;
const DEFAULT_PAGERDUTY_SOURCE = 'runwatch';

/** An Events API v2 integration key ("routing key") is 32 characters. */
const PAGERDUTY_ROUTING_KEY_LENGTH = 32;

const SINKS = {
  console: {
    requiredEnv: [],
    async create() {
      const { ConsoleSink } = await import('./console.js');
      return new ConsoleSink(process.stdout);
    },
  },
  webhook: {
    requiredEnv: ['WEBHOOK_URL', 'WEBHOOK_SECRET'],
    async create(env, config) {
      const url = required(env, 'WEBHOOK_URL');
      const { WebhookSink, webhookUrlProblem } = await import('./webhook.js');
      // Not an http(s) URL, or credentials in it (user:password@): refused at start-up, without quoting the URL.
      const problem = webhookUrlProblem(url);
      if (problem) throw new SinkConfigurationError(problem, 'env.WEBHOOK_URL');
      const timeoutSeconds = config.sinks.webhook?.timeoutSeconds ?? DEFAULT_WEBHOOK_TIMEOUT_SECONDS;
      return new WebhookSink({ url, secret: required(env, 'WEBHOOK_SECRET'), timeoutMs: timeoutSeconds * 1000 });
    },
  },
  scc: {
    requiredEnv: ['SCC_SOURCE'],
    async create(env) {
      const { SccSink, parseSccEndpoint, parseSccSource } = await import('./scc.js');
      const source = required(env, 'SCC_SOURCE');
      if (!parseSccSource(source)) throw new SinkConfigurationError('SCC_SOURCE must look like organizations/ORGANIZATION_ID/sources/SOURCE_ID', 'env.SCC_SOURCE');
      const endpoint = optional(env, 'SCC_API_ENDPOINT');
      return new SccSink({ source, ...(endpoint ? { endpoint: parseEndpoint(parseSccEndpoint, endpoint, 'SCC_API_ENDPOINT') } : {}) });
    },
  },
  slack: {
    requiredEnv: ['SLACK_BOT_TOKEN'],
    async create(env, config) {
      const settings = config.sinks.slack;
      if (!settings || !(settings.channel || settings.channelsBySeverity || settings.channelsByRule)) {
        throw new SinkConfigurationError('the Slack sink needs sinks.slack.channel (or channelsBySeverity / channelsByRule) in the config', 'sinks.slack');
      }
      const { SlackSink } = await import('./slack.js');
      const apiUrl = optional(env, 'SLACK_API_URL');
      if (apiUrl) checkCredentialUrl(apiUrl, 'SLACK_API_URL', 'the Slack token');
      const sccSource = optional(env, 'SCC_SOURCE');
      return new SlackSink({ token: required(env, 'SLACK_BOT_TOKEN'), config: settings, ...(apiUrl ? { apiUrl } : {}), ...(sccSource ? { sccSource } : {}) });
    },
  },
  pagerduty: {
    requiredEnv: ['PAGERDUTY_ROUTING_KEY'],
    async create(env, config) {
      const eventsUrl = optional(env, 'PAGERDUTY_EVENTS_URL');
      if (eventsUrl) checkCredentialUrl(eventsUrl, 'PAGERDUTY_EVENTS_URL', 'the routing key');
      const routingKey = required(env, 'PAGERDUTY_ROUTING_KEY');
      // Events API v2 answers a wrong key with 400 for every event: refused here instead of dead-lettering each page.
      if (routingKey.length !== PAGERDUTY_ROUTING_KEY_LENGTH) {
        throw new SinkConfigurationError(
          `PAGERDUTY_ROUTING_KEY must be the ${PAGERDUTY_ROUTING_KEY_LENGTH}-character integration key of an Events API v2 integration (the value set has ${routingKey.length} characters)`,
          'env.PAGERDUTY_ROUTING_KEY',
        );
      }
      const { PagerDutySink } = await import('./pagerduty.js');
      return new PagerDutySink({
        routingKey,
        source: config.sinks.pagerduty?.source ?? DEFAULT_PAGERDUTY_SOURCE,
        ...(eventsUrl ? { eventsUrl } : {}),
      });
    },
  },
} as const satisfies Record<SinkName, SinkDefinition>;

export async function createSink(name: SinkName, env: SinkEnv, config: RunwatchConfig): Promise<Sink> {
  const definition: SinkDefinition | undefined = Object.hasOwn(SINKS, name) ? SINKS[name] : undefined;
  if (!definition) throw new SinkConfigurationError(`unknown sink ${JSON.stringify(name)}; expected one of ${SINK_NAMES.join(', ')}`);
  const missing = definition.requiredEnv.filter((variable) => !optional(env, variable));
  if (missing.length) {
    throw new SinkConfigurationError(`the ${name} sink needs the environment variable${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`, missing.length === 1 ? `env.${missing[0]}` : undefined);
  }
  return definition.create(env, config);
}

/**
 * A variable without surrounding white space (a secret stored with `echo KEY | gcloud secrets create --data-file=-`
 * keeps its newline, and a PagerDuty key with one is refused); an empty one counts as unset, so a blank secret does
 * not pass as configured.
 */
function optional(env: SinkEnv, variable: string): string | undefined {
  const value = env[variable]?.trim();
  return value !== undefined && value !== '' ? value : undefined;
}

function required(env: SinkEnv, variable: string): string {
  const value = optional(env, variable);
  if (value === undefined) throw new SinkConfigurationError(`the environment variable ${variable} is not set`, `env.${variable}`);
  return value;
}

/**
 * An endpoint override that every request carries a credential to (`what`): https to any host (another region,
 * GovSlack, a proxy), plain http only to a loopback host (a local test server), as for the gRPC endpoints
 * (functions/grpcEndpoint.ts). The value is never echoed: a URL can hold a credential of its own.
 */
function checkCredentialUrl(value: string, variable: string, what: string): void {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    // reported below, as any other scheme
  }
  if (url?.protocol === 'https:') return;
  if (url?.protocol !== 'http:') throw new SinkConfigurationError(`${variable} must be an http(s) URL`, `env.${variable}`);
  if (!isLoopback(url.hostname.replace(/^\[(.*)\]$/, '$1'))) {
    throw new SinkConfigurationError(`${variable} must use https: plain http is allowed to a loopback host only (${what} would travel unencrypted)`, `env.${variable}`);
  }
}

function parseEndpoint<T>(parse: (value: string) => T, value: string, variable: string): T {
  try {
    return parse(value);
  } catch (error) {
    throw new SinkConfigurationError(error instanceof Error ? error.message : String(error), `env.${variable}`);
  }
}
