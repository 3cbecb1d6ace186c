import { runPlugin } from '@cni-ts/skel';
import { bandwidth } from './bandwidth.js';

runPlugin(bandwidth);
