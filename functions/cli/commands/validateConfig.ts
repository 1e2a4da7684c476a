import { parseArgs } from 'node:util';
import { configText, loadConfigFile, parseConfig } from '../../config/load.js';
import { UsageError, type Command } from '../command.js';
import { terminalSafe } from '../../untrustedText.js';

export const validateConfigCommand: Command = {
  name: 'validate-config',
  summary: 'check a config file; exit 2 listing every problem as path: reason',
  usage: `runwatch validate-config FILE

Checks a config file (YAML or JSON) against schemas/config.schema.json and what a schema cannot say (time zones,
dates, empty windows): prints "FILE: valid" and exits 0, or lists every problem as path: reason on stderr and exits
2 (1 when FILE cannot be read). FILE - reads the config from stdin (named stdin in what is printed).`,
  async run(args, io): Promise<number> {
    const { positionals } = parseArgs({ args: [...args], allowPositionals: true, options: {} });
    if (positionals.length !== 1) throw new UsageError('validate-config takes exactly one FILE');
    const file = positionals[0]!;
    // Both throw ConfigError, which main reports with exit code 2 (1 when the file cannot be read).
    if (file === '-') parseConfig(configText(await allOf(io.stdin)), STDIN);
    else await loadConfigFile(file);
    io.stdout.write(`${terminalSafe(file === '-' ? STDIN : file)}: valid\n`);
    return 0;
  },
};

/** How a config read from stdin is named in what validate-config prints. */
const STDIN = 'stdin';

async function allOf(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}
