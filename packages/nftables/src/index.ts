export * from './nft.js';
