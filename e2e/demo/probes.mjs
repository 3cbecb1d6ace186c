// What the demo sends through the cluster: pings, TCP connections to a tiny server in every pod
// that answers with the source address it saw, and iperf3 transfers. Each probe returns the exact
// command it ran and what it saw, so a failed check can say both.
import { execa } from 'execa';

const NODE = process.execPath;

/** A probe that failed: the command it ran and what came back. */
export class ProbeError extends Error {
  constructor(message, { command, seen }) {
    super(message);
    this.command = command;
    this.seen = seen;
  }
}

const inNs = (ns, file, args) => ['ip', ['netns', 'exec', ns.name, file, ...args]];
const show = (ns, file, args) => `ip netns exec ${ns.name} ${file} ${args.map(quote).join(' ')}`;
const quote = (a) => (/^[\w@%+=:,./[\]-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`);

/** ping once (up to 5 s: a new IPv6 gateway is tentative for about a second). */
export async function ping(ns, ip) {
  const args = ['-c', '1', '-w', '5', ip];
  const command = show(ns, 'ping', args);
  const r = await execa(...inNs(ns, 'ping', args), { reject: false });
  const seen = String(r.stdout).split('\n').filter(Boolean).slice(-2).join(' ');
  if (r.exitCode !== 0) throw new ProbeError(`no reply from ${ip}`, { command, seen });
  return { command, seen: 'reply' };
}

// Accepts on [::]:port (IPv4 too) and answers each connection with the peer's address.
const SERVER = `
const net = require('node:net');
const s = net.createServer((c) => { c.end(String(c.remoteAddress).replace(/^::ffff:/, '') + '\\n'); });
s.listen({ port: Number(process.argv[1]), host: '::', ipv6Only: false }, () => console.log('ready'));`;

/** Starts the echo server in a pod; resolves once it listens. */
export async function startServer(ns, port) {
  const child = execa(...inNs(ns, NODE, ['-e', SERVER, String(port)]), { reject: false });
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
  });
  await new Promise((resolve, reject) => {
    child.stdout.once('data', resolve);
    child.once('exit', () => reject(new Error(`the server in ${ns.name} exited: ${err.trim()}`)));
  });
  return { stop: () => child.kill('SIGTERM') };
}

const CLIENT = `
const net = require('node:net');
const c = net.connect({ host: process.argv[1], port: Number(process.argv[2]), timeout: 4000 });
let got = '';
c.on('data', (d) => { got += d; });
c.on('end', () => { console.log(got.trim()); });
c.on('timeout', () => { console.error('timed out'); process.exit(2); });
c.on('error', (e) => { console.error(e.code || e.message); process.exit(1); });`;

/** Connects from ns to host:port; returns the source address the server saw. */
export async function connect(ns, host, port) {
  const args = ['-e', '<tcp client>', host, String(port)];
  const command = `${show(ns, 'node', args.slice(0, 1))} <connect ${host.includes(':') ? `[${host}]` : host}:${port}>`;
  const r = await execa(...inNs(ns, NODE, ['-e', CLIENT, host, String(port)]), { reject: false, timeout: 8000 });
  const seen = String(r.stdout).trim() || String(r.stderr).trim() || `exit ${r.exitCode}`;
  if (r.exitCode !== 0 || !r.stdout.trim()) throw new ProbeError(`no answer from ${host}:${port}`, { command, seen });
  return { command, seen };
}

/** Connects and requires the server to have seen `expected` as the source. */
export async function connectSeeing(ns, host, port, expected, why) {
  const r = await connect(ns, host, port);
  if (r.seen !== expected)
    throw new ProbeError(`${host}:${port} saw the connection from ${r.seen}, expected ${expected} (${why})`, r);
  return r;
}

/**
 * An iperf3 transfer between a client netns and a server in another; `reverse` sends from the
 * server to the client. Returns the receiver's average rate and the per-second rates.
 */
export async function iperf(client, server, serverIp, { reverse = false, seconds = 3 } = {}) {
  const port = String(5201 + Math.floor(Math.random() * 500));
  const srvArgs = ['-s', '-1', '-B', serverIp, '-p', port, '--forceflush'];
  const srv = execa(...inNs(server, 'iperf3', srvArgs), { reject: false });
  const args = ['-c', serverIp, '-p', port, '-t', String(seconds), '-J', ...(reverse ? ['-R'] : [])];
  const command = show(client, 'iperf3', args);
  try {
    await listening(srv, show(server, 'iperf3', srvArgs));
    const r = await execa(...inNs(client, 'iperf3', args), { reject: false, timeout: (seconds + 10) * 1000 });
    if (r.exitCode !== 0) {
      let why = String(r.stderr || r.stdout).slice(0, 300);
      try {
        why = JSON.parse(r.stdout).error ?? why;
      } catch {
        // not JSON: keep the text
      }
      throw new ProbeError(`iperf3 failed: ${why}`, { command, seen: why });
    }
    const doc = JSON.parse(r.stdout);
    const sum = doc.end?.sum_received;
    if (doc.error || !sum)
      throw new ProbeError(`iperf3: ${doc.error ?? 'no receiver total'}`, {
        command,
        seen: String(r.stdout).slice(0, 300),
      });
    const intervals = (doc.intervals ?? []).map((i) => i.sum.bits_per_second);
    return { command, bps: sum.bits_per_second, intervals };
  } finally {
    srv.kill('SIGTERM');
    await srv;
  }
}

// resolves once the iperf3 server says it listens (--forceflush: a pipe would hold the line back)
function listening(srv, command) {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => fail('did not listen within 10 s'), 10_000);
    const fail = (why) => {
      clearTimeout(timer);
      reject(new ProbeError(`the iperf3 server ${why}`, { command, seen: `${out}${err}`.trim() }));
    };
    srv.stderr.on('data', (d) => {
      err += d;
    });
    srv.stdout.on('data', (d) => {
      out += d;
      if (/Server listening/.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    srv.once('exit', () => fail('exited before it listened'));
  });
}

/** A rate in Mbit/s with two decimals. */
export function mbit(bps) {
  return `${(bps / 1e6).toFixed(2)} Mbit/s`;
}
