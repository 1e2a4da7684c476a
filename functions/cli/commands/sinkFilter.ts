import { sinkFilter } from '../../detectors/sinkFilter.js';
import type { Command } from '../command.js';

export const sinkFilterCommand: Command = {
  name: 'sink-filter',
  summary: 'print the Cloud Logging sink filter generated from the detectors',
  usage: 'runwatch sink-filter',
  run(_args, io): Promise<number> {
    io.stdout.write(sinkFilter());
    return Promise.resolve(0);
  },
};
