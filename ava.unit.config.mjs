// Tier 1 and 2: pure and contract tests (no root, no built executables needed).
export default {
  files: [
    'packages/**/dist/test/**/*.test.js',
    '!packages/**/dist/test/integration/**',
    '!**/node_modules/**',
    'tools/**/test/**/*.test.mjs',
  ],
  timeout: '60s',
};
