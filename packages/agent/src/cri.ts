// A CRI client for the one call the agent makes: ListPodSandbox over the runtime's unix socket
// (containerd: /run/containerd/containerd.sock, CRI-O: /var/run/crio/crio.sock), gRPC with the
// runtime.v1 API. The sandbox IDs are the container IDs the runtime gave CNI.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

const here = dirname(fileURLToPath(import.meta.url));

/** The proto file: beside the bundle (the image), or the package's proto/ (dist/src/cri.js). */
export const CRI_PROTO = [
  join(here, 'cri-runtime-v1.proto'),
  join(here, '..', '..', 'proto', 'cri-runtime-v1.proto'),
].find((p) => existsSync(p)) as string;

/** A pod sandbox as the runtime lists it. */
export interface Sandbox {
  id: string;
  state: 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
  name: string;
  namespace: string;
}

/** The runtime's sandboxes, or an error (never a partial list). */
export interface SandboxLister {
  listSandboxes(): Promise<Sandbox[]>;
  close(): void;
}

type ServiceCtor = new (address: string, creds: grpc.ChannelCredentials) => grpc.Client;

let loaded: grpc.GrpcObject | undefined;

/** The runtime.v1 package of the proto, loaded once. */
export function criPackage(): grpc.GrpcObject {
  // parsed from text we read ourselves: protobufjs's own file loading finds no `fs` in a bundle
  const root = protobuf.parse(readFileSync(CRI_PROTO, 'utf8'), { keepCase: false }).root;
  loaded ??= grpc.loadPackageDefinition(
    protoLoader.fromJSON(root.toJSON(), { keepCase: false, longs: String, enums: String, defaults: true }),
  );
  return (loaded.runtime as grpc.GrpcObject).v1 as grpc.GrpcObject;
}

/** A client of the CRI runtime at the unix socket `socket`; each call has `timeoutMs`. */
export function criClient(socket: string, timeoutMs: number): SandboxLister {
  const Service = criPackage().RuntimeService as unknown as ServiceCtor;
  const client = new Service(`unix://${socket}`, grpc.credentials.createInsecure());
  return {
    listSandboxes() {
      return new Promise((resolve, reject) => {
        const call = (client as unknown as Record<string, ListCall>).listPodSandbox as ListCall;
        call.call(
          client,
          {},
          { deadline: Date.now() + timeoutMs },
          (err: grpc.ServiceError | null, res?: { items?: RawSandbox[] }) => {
            if (err)
              reject(
                new Error(
                  `ListPodSandbox on ${socket} failed: ${(err.details || err.message).replace(/[.\s]*Resolution note:\s*$/, '')}`,
                ),
              );
            else resolve((res?.items ?? []).map(toSandbox));
          },
        );
      });
    },
    close() {
      client.close();
    },
  };
}

type ListCall = (
  req: object,
  opts: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res?: { items?: RawSandbox[] }) => void,
) => void;

interface RawSandbox {
  id?: string;
  state?: string;
  metadata?: { name?: string; namespace?: string };
}

function toSandbox(s: RawSandbox): Sandbox {
  return {
    id: s.id ?? '',
    state: s.state === 'SANDBOX_NOTREADY' ? 'SANDBOX_NOTREADY' : 'SANDBOX_READY',
    name: s.metadata?.name ?? '',
    namespace: s.metadata?.namespace ?? '',
  };
}
