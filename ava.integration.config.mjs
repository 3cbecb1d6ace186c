// Tier 3: the built executables in dist/bin, in throwaway network namespaces (root).
// Each test file is its own process (workerThreads off) with its own name prefix, so files can
// run side by side without touching each other's namespaces.
export default {
  files: ['packages/**/dist/test/integration/**/*.test.js', '!**/node_modules/**', 'e2e/**/*.test.mjs'],
  workerThreads: false,
  concurrency: 2,
  timeout: '180s',
};
