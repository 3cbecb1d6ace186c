// A real executor for the process layer's tests: every command runs in a fresh, empty network
// namespace of its own (`unshare -rn`, which needs no root), so tests drive the real tools and
// never touch the machine's namespaces. (The test kit's ScratchNetns cannot be used here: the
// test kit depends on this package.)
import { type Executor, systemExecutor } from '../src/index.js';

// The tools from the system PATH: npx puts node_modules/.bin first (it has an `nft` of its own).
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Runs each command as `unshare -rn -- <file> <args…>`. */
export const scratchExecutor: Executor = {
  run(file, args, opts = {}) {
    return systemExecutor.run('unshare', ['-rn', '--', file, ...args], {
      ...opts,
      env: { ...(opts.env ?? process.env), PATH: SYSTEM_PATH },
    });
  },
};

/** What a ProcessError-throwing call threw (fails the test when nothing was thrown). */
export function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to throw');
}
