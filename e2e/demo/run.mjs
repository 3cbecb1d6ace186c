#!/usr/bin/env node
// The main job: the sandbox cluster demo on the default conflist (e2e/conf/10-cni-ts.conflist).
// Run as root after `npm run build`:  npm run demo
import { isRoot } from '@cni-ts/testutils';
import { runClusterDemo } from './cluster.mjs';

if (!isRoot()) {
  console.error('the sandbox cluster demo creates network namespaces: run it as root');
  process.exitCode = 1;
} else {
  const { ok } = await runClusterDemo();
  process.exitCode = ok ? 0 : 1;
}
