// The disk store, byte-compatible with upstream's backend/disk so that the Go plugin and ours can
// share <dataDir>/<network>/ on one node:
//   <ip>                  one file per reservation: "<containerID>\r\n<ifname>", no newline, 0600
//   last_reserved_ip.<N>  the address last reserved from range set N, no newline, 0600
//   lock                  empty; flock(2)ed around every operation, created 0750 as go-filemutex does
// A reservation is written to a temporary file and hard-linked into place, so a plugin killed
// mid-write never leaves a half-written (empty) reservation behind. The cursor is rewritten in
// place, as upstream does (writeCursor: a cursor only says where the next search starts).
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  ftruncateSync,
  linkSync,
  openSync,
  readSync,
  readdirSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { formatIP, parseIP } from '@cni-ts/netaddr';
import { type FileLock, isKind, lockFile } from '@cni-ts/process';
import { CniError, ErrorCode } from '@cni-ts/types';
import type { Store } from './allocator.js';
import { type Reservation, ownerText } from './owners.js';
import { ioError } from './paths.js';
import { canonicalAddr } from './range.js';

/** Prefix of our temporary files; GC removes any left by a writer that was killed. */
export const TEMP_PREFIX = '.host-local.tmp.';
/** Prefix of the round-robin cursor files. */
export const LAST_PREFIX = 'last_reserved_ip.';

const { O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_TRUNC, O_WRONLY } = constants;

/**
 * True for names shaped like addresses: a cheap test that spares the hot path a full parse per
 * file (GC, which deletes, parses every name properly).
 */
export function looksLikeIP(name: string): boolean {
  return /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name) || (name.includes(':') && /^[0-9A-Fa-f:.]+$/.test(name));
}

/** A printable ASCII byte other than space: a text ending in one has nothing to trim at that end. */
const plainEnd = (b: number) => b > 0x20 && b < 0x7f;

// Strings are encoded with a TextEncoder, not Buffer.from: the first Buffer.from(string) of a
// process costs about 0.2 ms of CPU (Bun's builtin is set up on first use), and a bridge ADD
// that runs host-local in-process made its first one here (docs/performance.md, h4).
const utf8 = new TextEncoder();

/** True when `t` has no lone surrogate, i.e. its UTF-8 encoding decodes back to `t` (ES2024's isWellFormed). */
const wellFormed = (t: string) => (t as unknown as { isWellFormed(): boolean }).isWellFormed();

/** A network's store directory on disk. */
export class DiskStore implements Store {
  private readonly buf = Buffer.alloc(4096);
  /** The names held() listed, until reservedIPs() or a change of ours. */
  private listed: string[] | undefined;

  constructor(
    readonly dir: string,
    readonly network: string,
  ) {}

  /** Takes the store's lock; a lock still busy after timeoutMs is a code-11 error. */
  async lock(timeoutMs: number): Promise<FileLock> {
    const path = `${this.dir}/lock`;
    try {
      return await lockFile(path, { timeoutMs, mode: 0o750 });
    } catch (e) {
      if (isKind(e, 'busy')) {
        throw new CniError(
          ErrorCode.tryAgainLater,
          `the IP store of network "${this.network}" is busy: ${e.message}`,
          'another host-local run holds the store lock; the runtime should retry',
          { cause: e },
        );
      }
      throw new CniError(
        ErrorCode.ioFailure,
        `failed to lock the IP store of network "${this.network}": ${(e as Error).message}`,
        '',
        { cause: e },
      );
    }
  }

  reservedIPs(): Set<string> {
    // ADD asks right after held() listed the directory, and nothing changed in between (we hold
    // the lock; a reservation of ours clears it): that listing is used, not a second one
    const names = this.listed ?? this.names();
    this.listed = undefined;
    return new Set(names.filter(looksLikeIP));
  }

  held(id: string, ifname: string): Reservation[] {
    const exactText = ownerText(id, ifname);
    const legacyText = id.trim();
    const exact = utf8.encode(exactText);
    const legacy = utf8.encode(legacyText);
    // A file is compared byte for byte when that is provably the same as trimming its decoded
    // text: an owner that is its own UTF-8 round trip, already trimmed and without U+FFFD (which
    // invalid UTF-8 decodes to). Then a file whose bytes differ from both owners can only match
    // after trimming when it starts or ends with something other than printable ASCII, and only
    // those are decoded; otherwise every file is decoded and trimmed, as reservations() does.
    const bytewise = [exactText, legacyText].every((t) => wellFormed(t) && t.trim() === t && !t.includes('\ufffd'));
    const out: Reservation[] = [];
    const names: string[] = [];
    for (const ent of this.entries()) {
      names.push(ent.name);
      if (!ent.isFile() || !looksLikeIP(ent.name)) continue;
      const n = this.readRaw(ent.name);
      if (n < 0) continue;
      const b = this.buf;
      let owner: string | undefined;
      if (bytewise && n === exact.length && b.compare(exact, 0, n, 0, n) === 0) owner = exactText;
      else if (bytewise && n === legacy.length && b.compare(legacy, 0, n, 0, n) === 0) owner = legacyText;
      else if (!bytewise || n === 0 || !plainEnd(b[0]!) || !plainEnd(b[n - 1]!)) {
        const text = b.toString('utf8', 0, n).trim();
        if (text === exactText || text === legacyText) owner = text;
      }
      if (owner !== undefined) out.push({ ip: ent.name, file: ent.name, owner });
    }
    this.listed = names;
    return out;
  }

  reservations(): Reservation[] {
    const out: Reservation[] = [];
    for (const ent of this.entries()) {
      if (!ent.isFile() || !looksLikeIP(ent.name)) continue;
      const text = this.read(ent.name);
      if (text !== undefined) out.push({ ip: ent.name, file: ent.name, owner: text.trim() });
    }
    return out;
  }

  reserve(ip: string, id: string, ifname: string, rangeId: string): boolean {
    if (!this.place(ip, ownerText(id, ifname))) return false;
    // the reservation exists now: if the cursor cannot be written, take it back before failing
    try {
      this.writeCursor(`${LAST_PREFIX}${rangeId}`, ip);
    } catch (e) {
      try {
        this.remove(ip);
      } catch {
        // the cursor error matters more; the runtime's DEL finds the reservation by its owner
      }
      throw e;
    }
    return true;
  }

  // Creates the reservation file <ip> with content, whole or not at all; false when it exists.
  private place(ip: string, content: string): boolean {
    this.listed = undefined;
    const final = `${this.dir}/${ip}`;
    const tmp = `${this.dir}/${TEMP_PREFIX}${process.pid}.${ip}`;
    // created exclusively; only when that finds a leftover of a killed run that had our pid is it
    // removed and the creation tried again (no unlink of a missing name, and its ENOENT, per ADD)
    if (!this.writeNew(tmp, content)) {
      this.unlink(tmp);
      if (!this.writeNew(tmp, content)) throw ioError('write', tmp, new Error('EEXIST'));
    }
    try {
      linkSync(tmp, final);
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw ioError('write reservation', final, e);
      // a file system without hard links: create the reservation in place (O_EXCL), as upstream
      return this.writeNew(final, content);
    } finally {
      try {
        this.unlink(tmp);
      } catch {
        // a temporary file blocks no address; GC removes it
      }
    }
  }

  lastReserved(rangeId: string): string | undefined {
    const text = this.read(`${LAST_PREFIX}${rangeId}`)?.trim();
    const ip = text ? parseIP(text) : undefined;
    return ip ? formatIP(canonicalAddr(ip)) : undefined;
  }

  remove(file: string): void {
    this.listed = undefined;
    this.unlink(`${this.dir}/${file}`);
  }

  /** Removes temporary files left by writers that were killed; returns their names. */
  removeStrays(): string[] {
    const names = this.names().filter((n) => n.startsWith(TEMP_PREFIX));
    for (const n of names) this.remove(n);
    return names;
  }

  private names(): string[] {
    try {
      return readdirSync(this.dir);
    } catch (e) {
      throw ioError('list', this.dir, e);
    }
  }

  private entries() {
    try {
      return readdirSync(this.dir, { withFileTypes: true });
    } catch (e) {
      throw ioError('list', this.dir, e);
    }
  }

  // Reads a small regular file without following links or blocking on FIFOs.
  private read(name: string): string | undefined {
    const n = this.readRaw(name);
    return n < 0 ? undefined : this.buf.toString('utf8', 0, n);
  }

  // Reads the first 4 KiB of a file into buf, as read() does; the byte count, or -1.
  private readRaw(name: string): number {
    let fd: number;
    try {
      fd = openSync(`${this.dir}/${name}`, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    } catch {
      return -1;
    }
    try {
      return readSync(fd, this.buf, 0, this.buf.length, 0);
    } catch {
      return -1;
    } finally {
      closeSync(fd);
    }
  }

  // Creates path (O_EXCL, 0600, not through a link) with content; false when it already exists.
  private writeNew(path: string, content: string): boolean {
    let fd: number;
    try {
      fd = openSync(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw ioError('write', path, e);
    }
    try {
      writeSync(fd, content);
    } catch (e) {
      closeSync(fd);
      this.unlink(path);
      throw ioError('write', path, e);
    }
    closeSync(fd);
    return true;
  }

  // Rewrites the cursor in place, as upstream does, but without emptying it first: written over
  // from offset 0, then cut to its length when the old text was longer. On ext4 emptying a file
  // (O_TRUNC, as Go's os.WriteFile) or renaming over one makes the kernel start writing it back at
  // once (auto_da_alloc), about 0.2 ms; this costs a few microseconds. A run killed between the
  // write and the cut leaves the new address with the old one's tail ("10.88.0.99" over
  // "10.88.0.100" reads "10.88.0.990"): garbage, which reads as no cursor here and in Go, or
  // another address of the range. Either only moves where the next search starts; the cursor
  // never decides whether an address is free. Only a regular file with one link is written to;
  // anything else at the name (a symbolic link, a hard link to another file, a FIFO, a directory)
  // is replaced instead, so nothing outside the store is ever written.
  private writeCursor(name: string, content: string): void {
    const path = `${this.dir}/${name}`;
    let fd: number;
    try {
      fd = openSync(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o600);
    } catch {
      this.writeReplace(name, content); // ELOOP (a link), EISDIR, ENXIO (a FIFO nobody reads)…
      return;
    }
    let inPlace = false;
    try {
      const st = fstatSync(fd);
      if (st.isFile() && st.nlink === 1) {
        inPlace = true;
        // a cursor Go v1.1.1 wrote is 0644; ours are 0600, as a new one is
        if ((st.mode & 0o7777) !== 0o600) fchmodSync(fd, 0o600);
        const bytes = utf8.encode(content);
        if (writeSync(fd, bytes, 0, bytes.length, 0) !== bytes.length) throw new Error('short write');
        if (st.size > bytes.length) ftruncateSync(fd, bytes.length);
      }
    } catch (e) {
      throw ioError('write', path, e);
    } finally {
      closeSync(fd);
    }
    if (!inPlace) this.writeReplace(name, content);
  }

  // Replaces a file atomically (readers see the old or the new content, never a partial one).
  private writeReplace(name: string, content: string): void {
    const tmp = `${this.dir}/${TEMP_PREFIX}${process.pid}.${name}`;
    const path = `${this.dir}/${name}`;
    this.unlink(tmp);
    try {
      const fd = openSync(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0o600);
      try {
        writeSync(fd, content);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path);
    } catch (e) {
      this.unlink(tmp);
      throw ioError('write', path, e);
    }
  }

  private unlink(path: string): void {
    try {
      unlinkSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError('remove', path, e);
    }
  }
}
