// The part of Bun's built-in `bun:ffi` module that lock.ts and netlink/socket.ts use (no @types/bun in this repo).
declare module 'bun:ffi' {
  export const FFIType: { readonly i32: number; readonly u64: number; readonly ptr: number };
  export function ptr(view: ArrayBufferView, byteOffset?: number): number;
  export function dlopen<S extends Record<string, { args: number[]; returns: number }>>(
    path: string,
    symbols: S,
  ): { symbols: { [K in keyof S]: (...args: number[]) => number }; close(): void };
  export const read: { i32(ptr: number, offset?: number): number };
}
