// prevResult through the result schemas (zod), behind an import() in skel's own path (prev.ts):
// a run loads zod for prevResult only when the lean reader leaves the prevResult to the schemas.
import { type Result, parseResult } from '@cni-ts/types';
import { type NetConf, rawPrevResult } from './netconf.js';

/**
 * Parses prevResult (any version; its own cniVersion or the config's) into the current shape,
 * liberally; JSON that is not a result is a code-6 error naming the field. Undefined when absent.
 */
export function decodePrevResult(conf: NetConf): Result | undefined {
  const prev = rawPrevResult(conf);
  if (prev === undefined) return undefined;
  return parseResult(prev, conf.cniVersion, 'prevResult');
}
