import { runPlugin } from '@cni-ts/skel';
import { hostLocal } from './index.js';

runPlugin(hostLocal);
