// Placeholder until the plugin lands: every verb answers with a clear error.
import { type Plugin } from '@cni-ts/skel';
import { ALL_VERSIONS, CniError } from '@cni-ts/types';

const notYet = (): never => { throw new CniError(999, 'host-local is not implemented yet'); };

/** The host-local plugin. */
export const hostLocal: Plugin = { name: 'host-local', versions: ALL_VERSIONS, add: notYet, del: notYet, check: notYet };
