export { loopback, isLoopbackAddress } from './loopback.js';
