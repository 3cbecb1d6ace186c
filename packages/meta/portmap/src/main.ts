import { runPlugin } from '@cni-ts/skel';
import { portmap } from './portmap.js';

runPlugin(portmap);
