// The release dry run: builds both architectures' tarballs and the npm packages, then checks them
// (tools/release/dry-run; root for the netns and chroot checks). `npm run release:dry` runs this tier.
import { runEnvironment, startRun } from './tools/test-runner/run-dir.mjs';

// each run's scratch files in a parent of its own, removed with what killed workers left
// (tools/test-runner/run-dir.mjs)
export default {
  environmentVariables: runEnvironment(startRun()),
  files: ['tools/release/dry-run/**/*.test.mjs'],
  workerThreads: false,
  timeout: '600s',
};
