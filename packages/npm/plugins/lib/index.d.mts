/** The plugins the executable carries: each is installed as a hard link named after its CNI type. */
export declare const plugins: readonly string[];
/** The version of this package, which is the version the executable reports. */
export declare const version: string;
/** This machine's platform package name, e.g. @cni-ts/linux-x64 (musl systems have none). */
export declare function platformPackage(opts?: { platform?: string; arch?: string; musl?: boolean }): string;
/** The path of the executable for this machine, or an Error saying why there is none. */
export declare function executablePath(): string | Error;
/** Copies `exe` into `dir` as `cni-ts` and links every plugin name to it; returns the paths written. */
export declare function install(dir: string, exe: string): string[];
