// Binding libc functions in Bun without loading the `bun:ffi` module: its JavaScript layer costs a
// compiled plugin about 0.4 ms at first use (the module itself, and a wrapper made with
// `new Function` per symbol), while the native dlopen under it, `Bun.FFI.dlopen`, takes the same
// symbol table and returns callable functions (docs/performance.md, "The first use of bun:ffi").
// That native object is what `bun:ffi` wraps; where a Bun lacks it, `bun:ffi` is loaded instead.
// Without the wrappers, the callers here pass what the natives take: int32 arguments as int32
// values (`| 0`), pointers as typed arrays or addresses (`ptrOf`), sizes as plain numbers.

/** The argument and return types used here, in the names both layers take. */
export type FfiType = 'i32' | 'ptr' | 'u64_fast';

/** A symbol table for bindLibc. */
export type FfiSymbols = Record<string, { args: readonly FfiType[]; returns: FfiType }>;

/** What bindLibc returns: the functions, the address of a typed array's byte, and a 32-bit read. */
export interface FfiLib<S extends FfiSymbols> {
  symbols: { [K in keyof S]: (...args: unknown[]) => number };
  /** The address of `buf`'s byte `offset` (for a call reading or writing from there). */
  ptrOf(buf: Uint8Array, offset?: number): number;
  /** The int32 at `address`. */
  readI32(address: number): number;
}

/** What ffi.ts uses of `Bun.FFI` (and of the `bun:ffi` module, which has the same). */
export interface NativeFfi {
  dlopen(path: string, symbols: FfiSymbols): { symbols: Record<string, (...args: unknown[]) => number> };
  ptr(buf: Uint8Array, offset?: number): number;
  read: { i32(address: number, offset: number): number };
}

/**
 * Binds `symbols` of the first of `names` that opens; null outside Bun or when none does. Throws
 * nothing.
 */
export function bindLibc<S extends FfiSymbols>(names: readonly string[], symbols: S): FfiLib<S> | null {
  if (!process.versions.bun) return null;
  let ffi: NativeFfi | undefined;
  try {
    // getBuiltinModule, not require: a require makes bun add import.meta.require to the chunk (1
    // JavaScriptCore heap block of a loopback run, docs/startup.md)
    ffi = nativeFfi() ?? (process.getBuiltinModule('bun:ffi') as unknown as NativeFfi);
  } catch {
    return null;
  }
  return bindWith(ffi, names, symbols);
}

/** bindLibc through the given layer (`Bun.FFI` or the `bun:ffi` module: tests compare them). */
export function bindWith<S extends FfiSymbols>(ffi: NativeFfi, names: readonly string[], symbols: S): FfiLib<S> | null {
  for (const name of names) {
    try {
      // the native dlopen returns its failure (an Error) where bun:ffi's throws it
      const lib = ffi.dlopen(name, symbols) as ReturnType<NativeFfi['dlopen']> | Error;
      if (lib instanceof Error || typeof lib?.symbols !== 'object') continue;
      const { ptr, read } = ffi;
      return {
        symbols: lib.symbols as FfiLib<S>['symbols'],
        ptrOf: (buf, offset = 0) => ptr(buf, offset),
        readI32: (address) => read.i32(address, 0),
      };
    } catch {
      // try the next name
    }
  }
  return null;
}

/** Bun.FFI when it has what is used here (else bindLibc loads bun:ffi). */
export function nativeFfi(): NativeFfi | undefined {
  const f = (globalThis as { Bun?: { FFI?: Partial<NativeFfi> } }).Bun?.FFI;
  return f && typeof f.dlopen === 'function' && typeof f.ptr === 'function' && typeof f.read?.i32 === 'function'
    ? (f as NativeFfi)
    : undefined;
}
