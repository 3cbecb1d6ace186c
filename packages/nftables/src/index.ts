export * from './encode.js';
export * from './nft.js';
