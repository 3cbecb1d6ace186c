// ava helpers shared by the integration tests.
import type { TestFn } from 'ava';
import { isRoot } from './netns.js';

/**
 * `test` when running as root, else `test.skip` with one line on stderr saying why. CI runs as
 * root, and the test runner fails a root run that skipped for this reason.
 */
export function rootTest<T>(test: TestFn<T>, file: string): TestFn<T> {
  if (isRoot()) return test;
  process.stderr.write(`# SKIP ${file}: root integration tests need root (run as root, e.g. in CI)\n`);
  return test.skip as unknown as TestFn<T>;
}
