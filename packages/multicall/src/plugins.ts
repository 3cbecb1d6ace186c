// Every plugin the multi-call executable carries, by CNI type.
import type { Plugin } from '@cni-ts/skel';
import { bridge } from '@cni-ts/bridge';
import { hostLocal } from '@cni-ts/host-local';
import { loopback } from '@cni-ts/loopback';

/** The plugins by the name they are installed as. */
export const PLUGINS: Readonly<Record<string, Plugin>> = { loopback, bridge, 'host-local': hostLocal };
