// Node client for the gRPC transport: the shared call logic (grpc-call.ts) on a connect-node
// transport, gRPC over HTTP/2 by default, Connect or gRPC-web on request. Every direction.
// The browser client is grpc-browser-client.ts (connect-web, server-streaming only).

import type { Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { openCall, type CallClientOptions, type GrpcTarget, type SendingStreamCall, type StreamCallOptions } from './grpc-call.js';

export type { CodecPlan, ConnectionState, GrpcTarget, SendingStreamCall, StreamCall, StreamCallOptions } from './grpc-call.js';

export interface ClientOptions extends CallClientOptions {
  /** `http://127.0.0.1:8080`: where the router is served. */
  readonly baseUrl: string;
  /** Default `grpc` (HTTP/2); `connect` and `grpc-web` use HTTP/1.1. Ignored when `transport` is given. */
  readonly protocol?: 'grpc' | 'connect' | 'grpc-web';
  /** A Connect transport of your own (TLS, interceptors, a shared HTTP/2 session). */
  readonly transport?: Transport;
}

// One transport per options object: calls share its HTTP/2 session.
const transports = new WeakMap<ClientOptions, Transport>();

function transportFor(client: ClientOptions): Transport {
  if (client.transport) return client.transport;
  let t = transports.get(client);
  if (!t) {
    const protocol = client.protocol ?? 'grpc';
    t =
      protocol === 'grpc'
        ? createGrpcTransport({ baseUrl: client.baseUrl })
        : protocol === 'connect'
          ? createConnectTransport({ baseUrl: client.baseUrl, httpVersion: '1.1' })
          : createGrpcWebTransport({ baseUrl: client.baseUrl, httpVersion: '1.1' });
    transports.set(client, t);
  }
  return t;
}

export function openGrpcStream<M extends { type: string; id: string; data: unknown }, C extends { type: string; data?: unknown } = never>(
  client: ClientOptions,
  target: GrpcTarget,
  args: { params?: unknown; request?: unknown } & StreamCallOptions,
): SendingStreamCall<M, C> {
  return openCall<M, C>(transportFor(client), client, target, args);
}
