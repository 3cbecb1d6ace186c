// Tier 3: the built executables in dist/bin, in throwaway network namespaces (root).
// Each test file is its own process (workerThreads off) with its own name prefix, so files can
// run side by side without touching each other's namespaces.
import { runEnvironment, startRun } from './tools/test-runner/run-dir.mjs';

// each run's scratch files in a parent of its own, removed with what killed workers left
// (tools/test-runner/run-dir.mjs)
export default {
  environmentVariables: runEnvironment(startRun()),
  files: ['packages/**/dist/test/integration/**/*.test.js', '!**/node_modules/**', 'e2e/**/*.test.mjs'],
  workerThreads: false,
  concurrency: 2,
  timeout: '180s',
};
