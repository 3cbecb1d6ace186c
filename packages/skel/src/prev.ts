// prevResult, decoded into the current shape. The common shapes are read without zod (types'
// lean reader); only a prevResult the lean reader leaves alone loads the result schemas, so a
// run that reads no such prevResult (loopback) never loads zod (docs/startup.md).
import { type Result, parseResultLean } from '@cni-ts/types';
import { type NetConf, rawPrevResult } from './netconf.js';

/**
 * decodePrevResult, prepared so that reading it needs no import: the lean reader's answer (or
 * its error) now, and the result schemas loaded now only when it leaves the prevResult to them.
 * Nothing is thrown here: the decoder throws what decodePrevResult would, when it is called.
 */
export async function prevResultDecoder(conf: NetConf): Promise<() => Result | undefined> {
  const prev = rawPrevResult(conf);
  if (prev === undefined) return () => undefined;
  let lean: Result | undefined;
  try {
    lean = parseResultLean(prev, conf.cniVersion, 'prevResult');
  } catch (error) {
    return () => {
      throw error;
    };
  }
  if (lean) return () => lean;
  const { decodePrevResult } = await import('./prev-schema.js');
  return () => decodePrevResult(conf);
}
