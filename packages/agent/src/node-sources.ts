// The two node sources: the Kubernetes API (list + watch Nodes through @kubernetes/client-node's
// informer, which re-lists after a 410 Gone and reconnects), and a static file polled for changes.
import { statSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import type { Logger } from './log.js';
import { type KubeNode, type NodeSource, nodeFromKube, readNodeList } from './nodes.js';

/** Where to reach the API server. */
export interface KubeSourceOptions {
  /** A kubeconfig file; default: in-cluster (service account token). */
  kubeconfig?: string;
  /** A plain URL (http or https without credentials), for tests and `kubectl proxy`. */
  apiServer?: string;
}

/** Loads the client configuration: apiServer URL, a kubeconfig file, or in-cluster. */
export function kubeConfig(opts: KubeSourceOptions): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (opts.apiServer) {
    kc.loadFromOptions({
      clusters: [{ name: 'api', server: opts.apiServer, skipTLSVerify: opts.apiServer.startsWith('http:') }],
      users: [{ name: 'anonymous' }],
      contexts: [{ name: 'api', cluster: 'api', user: 'anonymous' }],
      currentContext: 'api',
    });
  } else if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
  else kc.loadFromCluster();
  return kc;
}

/** Nodes from the Kubernetes API: one list, then a watch; errors are logged and retried. */
export function kubeNodeSource(opts: KubeSourceOptions, log: Logger, retryMs = 2000): NodeSource {
  const kc = kubeConfig(opts);
  const api = kc.makeApiClient(k8s.CoreV1Api);
  const informer = k8s.makeInformer<k8s.V1Node>(kc, '/api/v1/nodes', () => api.listNode());
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  return {
    async start(onChange) {
      // nothing is emitted before a list has succeeded: an empty or partial list would remove the
      // routes of every node not yet seen (a restart, even during an API outage, changes nothing)
      let synced = false;
      const emit = () => {
        if (!synced) return;
        onChange(
          informer
            .list()
            .map((n) => nodeFromKube(n as KubeNode))
            .filter((n) => !!n),
        );
      };
      const afterStart = () => {
        // the informer's ListWatch has latestResourceVersion(); its declared type does not say so
        const rv = (informer as unknown as { latestResourceVersion(): string }).latestResourceVersion();
        if (synced || !rv) return;
        synced = true;
        emit();
      };
      informer.on('add', emit);
      informer.on('update', emit);
      informer.on('delete', emit);
      informer.on('error', (err: unknown) => {
        if (stopped) return;
        log.warn('watching nodes failed; retrying', { error: errorText(err), retryMs });
        clearTimeout(timer);
        timer = setTimeout(() => {
          if (stopped) return;
          informer
            .start()
            .then(afterStart)
            .catch((e: unknown) => log.warn('restarting the node watch failed', { error: errorText(e) }));
        }, retryMs);
      });
      await informer.start();
      afterStart();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await informer.stop();
    },
  };
}

/**
 * Nodes from a file, re-read when it changes (polled, so replacing the file by rename works).
 * The file's identity (inode, size, mtime, ctime) is taken before each read and compared on every
 * poll, so a replacement that lands between the first read and the first poll is still seen
 * (fs.watchFile compares only with its own first stat, which can already show the new file).
 */
export function staticNodeSource(path: string, log: Logger, intervalMs = 500): NodeSource {
  let timer: ReturnType<typeof setInterval> | undefined;
  let loaded: string | undefined;
  const identity = (): string => {
    try {
      const s = statSync(path);
      return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
    } catch (e) {
      return `missing:${errorText(e)}`;
    }
  };
  return {
    async start(onChange) {
      const load = (id: string) => {
        loaded = id;
        try {
          onChange(readNodeList(path));
        } catch (e) {
          log.warn('cannot read the static node list; keeping the last one', { file: path, error: errorText(e) });
        }
      };
      load(identity());
      timer = setInterval(() => {
        const id = identity();
        if (id !== loaded) load(id);
      }, intervalMs);
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}

/** A printable message for anything thrown (client-node throws objects with a body, too). */
export function errorText(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (e && typeof e === 'object' && 'message' in e) return String((e as { message: unknown }).message);
  return String(e);
}
