// `runwatch scc create-source --organization O [--display-name NAME] [--description TEXT]`
// One-shot setup: creates the custom SCC source runwatch writes findings under and prints its name for SCC_SOURCE.
// Each run creates a NEW source (SCC has no create-if-absent for sources), so this is a manual step, never
// something the functions do. Needs roles/securitycenter.sourcesEditor on the organization (ADC credentials).
import { parseArgs } from 'node:util';
import { messageOf } from '../../../sinks/deliver.js';
import { createSccSource, parseSccEndpoint, type SccEndpoint } from '../../../sinks/scc.js';
import { argsErrorMessage, usageErrorText, usageReminder, type Command, type CommandIo } from '../command.js';
import { terminalSafe } from '../../untrustedText.js';

const USAGE = `runwatch scc create-source --organization ORGANIZATION_ID [--display-name NAME] [--description TEXT]

Creates the Security Command Center source runwatch writes its findings under and prints its name
(organizations/O/sources/S); set it as SCC_SOURCE for the scc notify function. Run it once: every run
creates another source. SCC_API_ENDPOINT (host:port) overrides the API endpoint.`;

const DEFAULT_DISPLAY_NAME = 'runwatch';
const DEFAULT_DESCRIPTION = 'Risky Cloud Run changes found in Cloud Audit Logs by runwatch.';

interface CreateSourceArgs {
  readonly organization: string;
  readonly displayName: string;
  readonly description: string;
}

export const sccCommand: Command = {
  name: 'scc',
  summary: 'Security Command Center setup (create-source)',
  usage: USAGE,
  async run(args: readonly string[], io: CommandIo): Promise<number> {
    const parsed = parseCreateSource(args);
    if (typeof parsed === 'string') {
      io.stderr.write(`runwatch scc: ${usageErrorText(parsed)}\n${usageReminder('scc', USAGE)}`);
      return 2;
    }
    let endpoint: SccEndpoint | undefined;
    try {
      const value = io.env['SCC_API_ENDPOINT'];
      endpoint = value ? parseSccEndpoint(value) : undefined;
    } catch (error) {
      io.stderr.write(`runwatch scc: ${terminalSafe(messageOf(error))}\n`);
      return 2;
    }
    try {
      const name = await createSccSource(parsed.organization, parsed.displayName, { description: parsed.description, ...(endpoint ? { endpoint } : {}) });
      io.stdout.write(`${terminalSafe(name)}\n`);
      io.stderr.write(`Created the source. Set SCC_SOURCE=${terminalSafe(name)} for the scc notify function.\n`);
      return 0;
    } catch (error) {
      io.stderr.write(`runwatch scc create-source: ${terminalSafe(messageOf(error))}\n`);
      return 1;
    }
  },
};

const OPTIONS = { organization: { type: 'string' }, 'display-name': { type: 'string' }, description: { type: 'string' } } as const;

/** The parsed arguments, or a message saying what is wrong with them. */
function parseCreateSource(args: readonly string[]): CreateSourceArgs | string {
  const [subcommand, ...rest] = args;
  if (subcommand !== 'create-source') return subcommand ? `unknown subcommand ${JSON.stringify(subcommand)}` : 'missing subcommand';
  let values: { organization?: string | undefined; 'display-name'?: string | undefined; description?: string | undefined };
  try {
    ({ values } = parseArgs({ args: [...rest], options: OPTIONS, allowPositionals: false, strict: true }));
  } catch (error) {
    return argsErrorMessage(error, OPTIONS, false);
  }
  if (!values.organization) return '--organization is required';
  if (!/^(organizations\/)?\d+$/.test(values.organization)) return `--organization must be a numeric organization id, got ${JSON.stringify(values.organization)}`;
  const displayName = values['display-name'] ?? DEFAULT_DISPLAY_NAME;
  if (displayName.length < 1 || displayName.length > 64) return '--display-name must be 1 to 64 characters';
  return { organization: values.organization, displayName, description: values.description ?? DEFAULT_DESCRIPTION };
}
