// A `tc [-j] [-raw] [-force] -batch -` run without a process: every command through rtnetlink on
// one socket of the target namespace, with the documents `tc -j` prints for the fields the
// plugins read (netlink/tc-docs.ts) and failures worded as tc 6.1 words them, so tcBatch's caller
// gets the same documents and the same ProcessError either way. A batch with a command outside
// the subset (netlink/tc-commands.ts) or another global option, or run where bun:ffi is missing,
// is undefined: the caller spawns `tc`.
import { type NetlinkOutcome, linkIndex } from './batch.js';
import { linkByIndex } from './commands.js';
import { ipErrorText } from './docs.js';
import { type Message, attrText } from './message.js';
import { type Rtnl, RtnlError, withRtnl } from './socket.js';
import { type TcStep, tcStepOf } from './tc-commands.js';
import { filterDoc, qdiscDoc } from './tc-docs.js';

const IFLA_IFNAME = 3;
const ENODEV = 19;

/** The global options of a tc batch this path takes. */
interface TcFlags {
  json: boolean;
  raw: boolean;
  force: boolean;
}

function flagsOf(options: readonly string[]): TcFlags | undefined {
  const f: TcFlags = { json: false, raw: false, force: false };
  for (const o of options) {
    if (o === '-j') f.json = true;
    else if (o === '-raw') f.raw = true;
    else if (o === '-force') f.force = true;
    else return undefined;
  }
  return f;
}

/**
 * Runs `commands` (tc argument lists) in the namespace at `netns` (ours when undefined) through
 * rtnetlink, with tc's global `options` (-j, -raw, -force); undefined when anything is outside
 * the subset or bun:ffi is missing. Like `tc -batch`, it stops at the first failing command
 * unless -force, and then fails at the end.
 */
export function tcNetlinkBatch(
  commands: ReadonlyArray<readonly string[]>,
  netns: string | undefined,
  options: readonly string[] = [],
): NetlinkOutcome | undefined {
  const flags = flagsOf(options);
  if (!flags) return undefined;
  const steps: TcStep[] = [];
  for (const c of commands) {
    const s = tcStepOf(c);
    // a show without -j prints text, which no caller reads
    if (!s || (s.show && !flags.json)) return undefined;
    steps.push(s);
  }
  return withRtnl(netns, (sock) => run(sock, steps, flags, docDecoder(flags.raw)));
}

/**
 * What a show step's answers become: `dev` is the index of the device it names, `nameOf` names a
 * device by index as tc does (ll_index_to_name).
 */
export type TcDecoder = (
  step: TcStep,
  answers: readonly Message[],
  dev: number,
  nameOf: (index: number) => string,
) => unknown;

// the documents `tc -j` prints
const docDecoder =
  (raw: boolean): TcDecoder =>
  (step, answers, dev, nameOf) =>
    step.show === 'qdisc' ? qdiscDoc(answers, dev, raw) : filterDoc(answers, raw, nameOf);

/**
 * Runs tc steps (netlink/tc-commands.ts' builders) on one socket of the namespace at `netns` as
 * tcNetlinkBatch runs a batch's — the same requests, lookups and failure words — with the answers
 * of show steps handed to `decode` instead of made into `tc -j` documents; undefined without
 * bun:ffi. A plugin that knows what it reads (bandwidth) skips the batch text and the documents.
 * `indices` (name → index, undefined for none) is the run's link cache: names already in it are
 * not looked up (a request's ENODEV for one is then reported as the lookup's "Cannot find
 * device"), and the names it looks up are left in it (a caller passes them to its next run).
 */
export function tcNetlinkSteps(
  steps: readonly TcStep[],
  netns: string | undefined,
  decode: TcDecoder,
  force = false,
  indices?: Map<string, number | undefined>,
): NetlinkOutcome | undefined {
  return withRtnl(netns, (sock) => run(sock, steps, { json: true, raw: true, force }, decode, indices));
}

function run(
  sock: Rtnl,
  steps: readonly TcStep[],
  flags: TcFlags,
  decode: TcDecoder,
  indices = new Map<string, number | undefined>(),
): NetlinkOutcome {
  const docs: unknown[] = [];
  let stderr = '';
  const seq = { next: 1 };
  // a name's index, asked once per batch, as tc's own link cache: no tc command creates or deletes a link
  const given = new Set(indices.keys());
  const lookup = (name: string): number | undefined => {
    if (!indices.has(name)) indices.set(name, linkIndex(sock, name, seq.next++));
    return indices.get(name);
  };
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    const why = runOne(sock, step, seq, docs, lookup, decode, given.has(step.dev));
    if (why === undefined) continue;
    stderr += `${why}Command failed -:${i + 1}\n`;
    if (!flags.force) break;
  }
  return stderr ? { failure: { stderr, status: 1 } } : { docs };
}

// One command; what tc prints on stderr when it fails, undefined when it succeeds.
function runOne(
  sock: Rtnl,
  step: TcStep,
  seq: { next: number },
  docs: unknown[],
  lookup: (name: string) => number | undefined,
  decode: TcDecoder,
  given: boolean,
): string | undefined {
  try {
    const index = lookup(step.dev);
    if (index === undefined) return `Cannot find device "${step.dev}"\n`;
    let target: number | undefined;
    if (step.target !== undefined) {
      target = lookup(step.target);
      // mirred's own lookup fails inside the action parser, which says so on the way out
      if (target === undefined)
        return `Cannot find device "${step.target}"\nbad action parsing\nparse_action: bad value (5:mirred)!\nIllegal "action"\n`;
    }
    const answers = sock.exchange(step.request({ index, ...(target !== undefined ? { target } : {}) }, seq.next++));
    if (step.show) docs.push(decode(step, answers, index, (ix) => nameOf(sock, ix, seq.next++)));
    return undefined;
  } catch (e) {
    if (!(e instanceof RtnlError)) throw e;
    // a device whose index the caller gave is gone: what tc's own lookup would have said
    if (given && e.errno === ENODEV && !step.target) return `Cannot find device "${step.dev}"\n`;
    return tcErrorText(e.errno, e.extack, step.filter === true);
  }
}

/**
 * What tc prints on stderr when the kernel refuses a command: libnetlink's line, as ip prints it
 * (docs.ts' ipErrorText), and for a filter command the line tc's filter code adds.
 */
export function tcErrorText(errno: number, extack: string | undefined, filter: boolean): string {
  const line = `${ipErrorText(errno, extack)}\n`;
  return filter ? `${line}We have an error talking to the kernel\n` : line;
}

// The first attribute of a type (a link's name comes early: no need to index all of its attributes).
function firstAttr(body: DataView, start: number, type: number): DataView | undefined {
  for (let off = start; off + 4 <= body.byteLength; ) {
    const len = body.getUint16(off, true);
    if (len < 4 || off + len > body.byteLength) return undefined;
    if ((body.getUint16(off + 2, true) & 0x3fff) === type)
      return new DataView(body.buffer, body.byteOffset + off + 4, len - 4);
    off += (len + 3) & ~3;
  }
  return undefined;
}

// tc's ll_index_to_name: "*" for no device, the name, or "if<N>" for an index nothing has
function nameOf(sock: Rtnl, index: number, seq: number): string {
  if (index === 0) return '*';
  try {
    const [m] = sock.exchange(linkByIndex(index, seq));
    const name = m ? attrText(firstAttr(m.body, 16, IFLA_IFNAME)) : undefined;
    if (name !== undefined) return name;
  } catch (e) {
    if (!(e instanceof RtnlError)) throw e;
  }
  return `if${index}`;
}
