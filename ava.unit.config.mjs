// Tier 1 and 2: pure and contract tests (no root, no built executables needed).
import { runEnvironment, startRun } from './tools/test-runner/run-dir.mjs';

// each run's scratch files in a parent of its own, removed with what killed workers left
// (tools/test-runner/run-dir.mjs)
export default {
  environmentVariables: runEnvironment(startRun()),
  files: [
    'packages/**/dist/test/**/*.test.js',
    '!packages/**/dist/test/integration/**',
    '!**/node_modules/**',
    'tools/**/test/**/*.test.mjs',
  ],
  timeout: '60s',
};
