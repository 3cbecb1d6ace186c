// ava helpers shared by the integration tests.
import type { TestFn } from 'ava';
import { isRoot } from './netns.js';

/**
 * `test` when running as root; otherwise a stand-in whose tests are all skipped and whose hooks
 * (before/beforeEach/after/afterEach, with .always) never run, plus one line on stderr saying
 * why. CI runs as root, and the test runner fails a root run that skipped for this reason.
 */
export function rootTest<T>(test: TestFn<T>, file: string): TestFn<T> {
  if (isRoot()) return test;
  process.stderr.write(`# SKIP ${file}: root integration tests need root (run as root, e.g. in CI)\n`);
  return skippingTest(test);
}

/**
 * A stand-in for `test` whose tests are all skipped and whose hooks never run (ava's test.skip has
 * no hooks, so files that register hooks on it would crash instead of skip).
 */
export function skippingTest<T>(test: TestFn<T>): TestFn<T> {
  const skip = (...args: unknown[]) => (test.skip as unknown as (...a: unknown[]) => void)(...args);
  const hook = Object.assign(() => {}, { always: Object.assign(() => {}, { skip: () => {} }), skip: () => {} });
  const chain = Object.assign(skip, { skip, only: skip, failing: Object.assign(skip, { skip }) });
  return Object.assign(chain, {
    serial: chain,
    before: hook,
    after: hook,
    beforeEach: hook,
    afterEach: hook,
    todo: test.todo,
    macro: test.macro,
    meta: test.meta,
  }) as unknown as TestFn<T>;
}
