import { runPlugin } from '@cni-ts/skel';
import { bridge } from './bridge.js';

runPlugin(bridge);
