import { runPlugin } from '@cni-ts/skel';
import { bridge } from './index.js';

runPlugin(bridge);
