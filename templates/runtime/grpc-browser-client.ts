// Browser client for the gRPC transport: the shared call logic (grpc-call.ts) on a connect-web
// transport (fetch), Connect protocol by default or gRPC-web. Server-streaming only: a browser
// cannot stream a request body, so client-to-server and bidirectional rpcs are for Node
// (grpc-client.ts). Nothing here imports a Node module.

import type { Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcWebTransport } from '@connectrpc/connect-web';
import { openCall, type CallClientOptions, type GrpcTarget, type StreamCall, type StreamCallOptions } from './grpc-call.js';

export type { CodecPlan, ConnectionState, GrpcTarget, StreamCall, StreamCallOptions } from './grpc-call.js';

export interface BrowserClientOptions extends CallClientOptions {
  /** `https://api.example`: where the router is served. */
  readonly baseUrl: string;
  /** Default `connect`; `grpc-web` for a gRPC-web proxy (Envoy). Ignored when `transport` is given. */
  readonly protocol?: 'connect' | 'grpc-web';
  /** A fetch of your own (credentials, a test double); called unbound, as `window.fetch` requires. */
  readonly fetch?: typeof fetch;
  /** A Connect transport of your own (interceptors). */
  readonly transport?: Transport;
}

const transports = new WeakMap<BrowserClientOptions, Transport>();

function transportFor(client: BrowserClientOptions): Transport {
  if (client.transport) return client.transport;
  let t = transports.get(client);
  if (!t) {
    const own = client.fetch;
    // Binary protobuf: smaller on the wire than proto3 JSON, and no JSON registry in the bundle's hot path.
    const options = { baseUrl: client.baseUrl, useBinaryFormat: true, ...(own ? { fetch: ((input, init) => own(input, init)) as typeof fetch } : {}) };
    t = client.protocol === 'grpc-web' ? createGrpcWebTransport(options) : createConnectTransport(options);
    transports.set(client, t);
  }
  return t;
}

export function openGrpcWebStream<M extends { type: string; id: string; data: unknown }>(
  client: BrowserClientOptions,
  target: GrpcTarget,
  args: { params?: unknown; request?: unknown } & StreamCallOptions,
): StreamCall<M> {
  return openCall<M>(transportFor(client), client, target, args);
}
