export * from './names.js';
export * from './rules.js';
export * from './restore.js';
export * from './save.js';
export * from './apply.js';
export * from './nft.js';
export * from './nft-read.js';
