// The release dry run: builds both architectures' tarballs and the npm packages, then checks them
// (tools/release/dry-run; root for the netns and chroot checks). `npm run release:dry` runs this tier.
export default {
  files: ['tools/release/dry-run/**/*.test.mjs'],
  workerThreads: false,
  timeout: '600s',
};
