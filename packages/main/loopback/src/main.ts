import { runPlugin } from '@cni-ts/skel';
import { loopback } from './loopback.js';

runPlugin(loopback);
