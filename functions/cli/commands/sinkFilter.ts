import { parseArgs } from 'node:util';
import { sinkFilter } from '../../detectors/sinkFilter.js';
import { argsErrorMessage, UsageError, type Command } from '../command.js';

export const sinkFilterCommand: Command = {
  name: 'sink-filter',
  summary: 'print the Cloud Logging sink filter generated from the detectors',
  usage: `runwatch sink-filter

Prints the Cloud Logging filter generated from the detectors: every audit entry a rule reads (Cloud Run admin
writes, IAM policy changes, the revisions' system events). It is the log sink's filter (Terraform's
terraform/modules/runwatch/log-filter.txt holds this text) and a query for gcloud logging read, to fetch history
for runwatch replay.`,
  run(args, io): Promise<number> {
    // No options and no arguments: anything given is a mistake, reported as a usage error (exit 2).
    try {
      parseArgs({ args: [...args], options: {}, allowPositionals: false, strict: true });
    } catch (error) {
      throw new UsageError(argsErrorMessage(error, {}, false));
    }
    io.stdout.write(sinkFilter());
    return Promise.resolve(0);
  },
};
