// portmap's config schema (zod/mini), in a module of its own: config.ts imports it only for a
// config its hand-written reading leaves to the schema (a value of the wrong type, say), so a
// usual run loads none of zod. Tests take loadConfNow, the same reading without the import.
import * as z from 'zod/mini';
import type { Context } from '@cni-ts/skel';
import { foldKeys, lazySchema, opt, parseWith } from '@cni-ts/types';
import { type PortmapConf, normalise, readConf } from './config.js';

const schema = lazySchema(() => {
  const conditions = () => opt(z.array(z.string()));
  return z.looseObject({
    cniVersion: z.string(),
    name: z.string(),
    backend: opt(z.string()),
    snat: opt(z.boolean()),
    masqAll: opt(z.boolean()),
    markMasqBit: opt(z.int()),
    externalSetMarkChain: opt(z.string()),
    conditionsV4: conditions(),
    conditionsV6: conditions(),
    runtimeConfig: opt(
      z.looseObject({
        portMappings: opt(
          z.array(
            z.looseObject({
              hostPort: opt(z.unknown()),
              containerPort: opt(z.unknown()),
              protocol: opt(z.unknown()),
              hostIP: opt(z.unknown()),
            }),
          ),
        ),
      }),
    ),
  });
});

/** What the schema gives: every key portmap reads, in its own case. */
export type RawConf = z.output<ReturnType<typeof schema>>;

/** The config through the schema alone (what the hand-written reading is tested against). */
export function loadConfWithSchema(ctx: Context): PortmapConf {
  const s = schema();
  return normalise(parseWith(s, foldKeys(s, ctx.conf.raw), 'portmap network configuration'));
}

/** config.ts' loadConf without the import: the same config or the same error, synchronously. */
export function loadConfNow(ctx: Context): PortmapConf {
  return readConf(ctx) ?? loadConfWithSchema(ctx);
}
