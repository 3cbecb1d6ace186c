export { bridge, makeBridge } from './bridge.js';
export type { Host } from './host.js';
export type { BridgeConf } from './config.js';
