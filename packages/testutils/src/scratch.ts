// A scratch network namespace for tests that feed text to the real tools (nft, iptables-restore,
// ip): a fresh user+network namespace (`unshare -rn`, no root needed) held open by one process
// we start, and a real Executor that runs every command inside it. Nothing on the machine's own
// namespaces changes; stop() ends the process and the namespace goes with it. The holder is `cat`
// reading a pipe from us, so it also ends when we do, even SIGKILLed (ava's after.always unrun).
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { type Executor, systemExecutor } from '@cni-ts/process';
import { SYSTEM_PATH } from './paths.js';

/** One scratch netns and the executor that runs commands in it. */
export class ScratchNetns {
  private constructor(
    private readonly child: ChildProcess,
    readonly pid: number,
  ) {}

  /** Starts the namespace; resolves once it exists. */
  static async start(): Promise<ScratchNetns> {
    const child = spawn('unshare', ['-rn', 'cat'], { stdio: ['pipe', 'ignore', 'ignore'], env: { PATH: SYSTEM_PATH } });
    const pid = child.pid;
    if (pid === undefined) throw new Error('unshare could not be started');
    // ready once unshare has exec'd cat: by then the namespaces exist and the uid map is
    // written (entering the user namespace before that would leave us without privileges)
    for (let i = 0; i < 500; i++) {
      try {
        if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'cat') return new ScratchNetns(child, pid);
      } catch {
        // not there yet
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill('SIGKILL');
    throw new Error('unshare -rn did not create a network namespace (are user namespaces disabled?)');
  }

  /** Runs commands inside the namespace (as its root), found on the system PATH (npx puts node_modules/.bin first). */
  get exec(): Executor {
    return this.execWith({});
  }

  /** Like exec, with these variables added to each command's environment (PATH defaults to the system PATH). */
  execWith(env: Record<string, string>): Executor {
    const pid = String(this.pid);
    return {
      run: (file, args, opts = {}) =>
        systemExecutor.run('nsenter', ['-t', pid, '-U', '-n', '--preserve-credentials', '--', file, ...args], {
          ...opts,
          env: { ...(opts.env ?? process.env), PATH: SYSTEM_PATH, ...env },
        }),
    };
  }

  /** Ends the namespace (kills only the process start() began). */
  stop(): void {
    this.child.kill('SIGKILL');
  }
}
