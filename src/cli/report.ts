// Placeholder until its issue lands: registers the command so --help lists it.
import type { CommandModule } from 'yargs';
import { ScopexError } from '../errors.js';
import type { GlobalArgs } from './common.js';

export const reportCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'report',
  describe: 'not built yet',
  handler: () => {
    throw new ScopexError('NOT_BUILT', 'scopex report is not built yet');
  },
};
