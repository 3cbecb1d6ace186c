// Reads what an ELF executable asks of the system that runs it: its machine, its interpreter
// (PT_INTERP), its shared libraries (DT_NEEDED) and the symbol versions it needs from each
// (.gnu.version_r), e.g. GLIBC_2.17 from libc.so.6. 64-bit little-endian only (all our targets).
import { readFileSync } from 'node:fs';

const PT_INTERP = 3;
const PT_DYNAMIC = 2;
const DT_NEEDED = 1;
const SHT_GNU_VERNEED = 0x6ffffffe;

/** { machine, interpreter, needed: string[], versions: { [library]: string[] } } of an ELF file. */
export function readElf(file) {
  const b = readFileSync(file);
  if (b.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${file}: not an ELF file`);
  if (b[4] !== 2 || b[5] !== 1) throw new Error(`${file}: not a 64-bit little-endian ELF file`);
  const u64 = (o) => Number(b.readBigUInt64LE(o));
  const machine = b.readUInt16LE(18);
  const phoff = u64(32);
  const shoff = u64(40);
  const [phentsize, phnum, shentsize, shnum] = [54, 56, 58, 60].map((o) => b.readUInt16LE(o));
  const sections = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    sections.push({
      type: b.readUInt32LE(o + 4),
      offset: u64(o + 24),
      size: u64(o + 32),
      link: b.readUInt32LE(o + 40),
    });
  }
  const cstr = (o) => b.toString('latin1', o, b.indexOf(0, o));
  let interpreter;
  const needed = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    const type = b.readUInt32LE(o);
    const offset = u64(o + 8);
    if (type === PT_INTERP) interpreter = cstr(offset);
    if (type === PT_DYNAMIC) needed.push(...dynamicNeeded(b, sections, offset, u64(o + 32), cstr));
  }
  const versions = {};
  for (const s of sections.filter((x) => x.type === SHT_GNU_VERNEED)) {
    const strtab = sections[s.link].offset;
    for (let o = s.offset; ; ) {
      const count = b.readUInt16LE(o + 2);
      const lib = cstr(strtab + b.readUInt32LE(o + 4));
      const list = (versions[lib] ??= []);
      for (let a = o + b.readUInt32LE(o + 8), k = 0; k < count; k++) {
        list.push(cstr(strtab + b.readUInt32LE(a + 8)));
        const next = b.readUInt32LE(a + 12);
        if (!next) break;
        a += next;
      }
      const next = b.readUInt32LE(o + 12);
      if (!next) break;
      o += next;
    }
  }
  return { machine, interpreter, needed, versions };
}

// DT_NEEDED entries name libraries by offsets into the dynamic string table (the section the
// .dynamic section links to).
function dynamicNeeded(b, sections, offset, size, cstr) {
  const dyn = sections.find((s) => s.offset === offset);
  if (!dyn) return [];
  const strtab = sections[dyn.link].offset;
  const out = [];
  for (let o = offset; o < offset + size; o += 16) {
    const tag = Number(b.readBigInt64LE(o));
    if (tag === 0) break;
    if (tag === DT_NEEDED) out.push(cstr(strtab + Number(b.readBigUInt64LE(o + 8))));
  }
  return out;
}

/** Compares dotted versions numerically: -1, 0 or 1. */
export function compareVersions(a, b) {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d) return Math.sign(d);
  }
  return 0;
}

/** The newest GLIBC_x.y an ELF file needs, over every library it links. */
export function newestGlibc(elf) {
  const all = Object.values(elf.versions)
    .flat()
    .filter((v) => v.startsWith('GLIBC_') && /^GLIBC_[0-9.]+$/.test(v))
    .map((v) => v.slice('GLIBC_'.length));
  return all.sort(compareVersions).at(-1);
}
