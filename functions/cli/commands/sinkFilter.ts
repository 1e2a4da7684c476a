import { parseArgs } from 'node:util';
import { sinkFilter } from '../../detectors/sinkFilter.js';
import type { Command } from '../command.js';

export const sinkFilterCommand: Command = {
  name: 'sink-filter',
  summary: 'print the Cloud Logging sink filter generated from the detectors',
  usage: 'runwatch sink-filter',
  run(args, io): Promise<number> {
    // No options and no arguments: anything given is a mistake, reported as a usage error (exit 2).
    parseArgs({ args: [...args], options: {}, allowPositionals: false, strict: true });
    io.stdout.write(sinkFilter());
    return Promise.resolve(0);
  },
};
