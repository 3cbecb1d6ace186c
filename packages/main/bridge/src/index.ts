// Placeholder until the plugin lands: every verb answers with a clear error.
import { type Plugin } from '@cni-ts/skel';
import { ALL_VERSIONS, CniError } from '@cni-ts/types';

const notYet = (): never => { throw new CniError(999, 'bridge is not implemented yet'); };

/** The bridge plugin. */
export const bridge: Plugin = { name: 'bridge', versions: ALL_VERSIONS, add: notYet, del: notYet, check: notYet };
