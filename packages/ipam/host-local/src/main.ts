import { runPlugin } from '@cni-ts/skel';
import { hostLocal } from './hostlocal.js';

runPlugin(hostLocal);
