// What a release is built for: one row per platform. The tarball, the npm platform package
// (`@cni-ts/<name>`, derived by tools/build/sync.mjs), the bun runtime compiled in, and the checks
// of the release dry run all come from this table; adding a platform is adding a row.
//
// Every download is a package on the npm registry, pinned by version and integrity (sha512 of
// the tarball, as `npm view <pkg>@<version> dist.integrity` prints it):
//  - `runtime`: the bun runtime the executable is compiled against (`bun build --compile
//    --compile-executable-path`), the same version as the bun in devDependencies;
//  - `glibc`: a crosstool-ng sysroot with glibc 2.17 (napi-rs's cross toolchains), whose ld.so and
//    libc the dry run runs the executable on, to check the oldest glibc we state.

/** The bun the runtimes below belong to: the devDependency's version (a unit test checks). */
export const BUN_VERSION = '1.4.5';

/** The oldest glibc the executables run on (checked by the dry run, stated in docs/release.md). */
export const OLDEST_GLIBC = '2.17';

export const TARGETS = [
  {
    name: 'linux-x64', // npm platform package @cni-ts/linux-x64; Node's process.platform-process.arch
    os: 'linux',
    cpu: 'x64',
    libc: 'glibc',
    arch: 'amd64', // the tarball's name, as upstream's cni-plugins-linux-amd64-<version>.tgz
    // baseline: x86-64-v2 (SSE4.2, Nehalem and later); bun's default x64 runtime needs AVX2
    bunTarget: 'bun-linux-x64-baseline',
    runtime: {
      package: '@oven/bun-linux-x64-baseline',
      integrity: 'sha512-s8yMwYcFnnrA178gji0gZbkE2WVDej/Ti1x770oPfihxyRxSMNhGhiAQNXV53aDeraZxksdvKV/RAdQBCd0qPA==',
    },
    elfMachine: 62, // EM_X86_64
    interpreter: '/lib64/ld-linux-x86-64.so.2',
    qemu: { binary: 'qemu-x86_64-static', cpu: 'Nehalem' },
    glibc: {
      package: '@napi-rs/cross-toolchain-x64-target-x86_64',
      version: '1.0.0',
      integrity: 'sha512-lecoghCfoTAX9MLFcIx9/nL9M8xdkZ9n8Pki8qjKUNzjiq1zbECdEbzIZAMMHRtrXxifK9dAyYuh8gSxNbr2og==',
      archive: 'x86_64-unknown-linux-gnu.tar.xz',
    },
  },
  {
    name: 'linux-arm64',
    os: 'linux',
    cpu: 'arm64',
    libc: 'glibc',
    arch: 'arm64',
    bunTarget: 'bun-linux-arm64',
    runtime: {
      package: '@oven/bun-linux-aarch64',
      integrity: 'sha512-4BXmsSKnjOrlGWqZV4x/oWa7AVoR+B6lCXddMzOAXBIm3t50eslg9wb66gmtW1AamEQ1l1CDvmmruysEhqOWMg==',
    },
    elfMachine: 183, // EM_AARCH64
    interpreter: '/lib/ld-linux-aarch64.so.1',
    qemu: { binary: 'qemu-aarch64-static' },
    glibc: {
      package: '@napi-rs/cross-toolchain-x64-target-aarch64',
      version: '1.0.3',
      integrity: 'sha512-EMFcy/ahFsmCY3BI1tMC3wRUYZ+cDuILg7nP1micaKXW1tO1+RvUB1CC6QYe+cv2W4Tuz9wr3qcFExWyjgWf2w==',
      archive: 'aarch64-unknown-linux-gnu.tar.xz',
    },
  },
];

/** The release tarball of a target: cni-ts-linux-<arch>-v<version>.tgz. */
export function tarballName(target, version) {
  return `cni-ts-${target.os}-${target.arch}-v${version}.tgz`;
}
