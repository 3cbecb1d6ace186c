export { portmap, makePortmap } from './portmap.js';
export { type Host, systemHost, routeDeviceFrom, LOCK_PATH } from './host.js';
export * from './config.js';
export * from './values.js';
export * from './container.js';
export * from './plan-iptables.js';
export * from './plan-known.js';
export * from './plan-nft.js';
export * from './conntrack.js';
