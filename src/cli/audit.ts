// Placeholder until its issue lands: registers the command so --help lists it.
import type { CommandModule } from 'yargs';
import { ScopexError } from '../errors.js';
import type { GlobalArgs } from './common.js';

export const auditCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'audit',
  describe: 'not built yet',
  handler: () => {
    throw new ScopexError('NOT_BUILT', 'scopex audit is not built yet');
  },
};
