// bind(ir, transport): the IR with the transport table applied. Every per-transport decision a
// target needs (how the request travels, how resume, errors and heartbeats are encoded) is made
// here once, so targets and templates only read it.

import { TRANSPORT_TRAITS, type TransportTraits } from './transports.ts';
import type { Contract, NamedType, SchemaNode, Stream, Transport } from './types.ts';

export type RequestVia = 'none' | 'query' | 'body' | 'open-frame' | 'message';
export type ErrorEncoding = 'error-frame-then-close' | 'in-band-message' | 'close-code' | 'grpc-status';

export interface BoundStream {
  readonly stream: Stream;
  /** How the `request` travels: GET query parameters when flat (SSE/NDJSON), else a POST body. */
  readonly requestVia: RequestVia;
  readonly resumeVia: 'none' | 'last-event-id' | 'token';
  readonly errorEncoding: ErrorEncoding;
  /** Credit grants travel from the client (only for credit backpressure on a two-way transport). */
  readonly creditGrants: boolean;
}

export interface BoundContract {
  readonly contract: Contract;
  readonly transport: Transport;
  readonly traits: TransportTraits;
  readonly streams: readonly BoundStream[];
}

export function bind(contract: Contract, transport: Transport): BoundContract {
  const traits = TRANSPORT_TRAITS[transport];
  const types = new Map(contract.types.map((t) => [t.key, t]));
  return {
    contract,
    transport,
    traits,
    streams: contract.streams.map((stream) => ({
      stream,
      requestVia: requestVia(stream, transport, types),
      resumeVia: stream.resume.kind === 'none' ? 'none' : traits.resume,
      errorEncoding: errorEncoding(stream, transport),
      creditGrants: stream.backpressure.kind === 'credit' && traits.credit,
    })),
  };
}

function requestVia(s: Stream, transport: Transport, types: ReadonlyMap<string, NamedType>): RequestVia {
  if (!s.request) return 'none';
  switch (transport) {
    case 'sse':
    case 'ndjson':
      return isFlat(s.request, types) ? 'query' : 'body';
    case 'websocket':
      return 'open-frame';
    case 'grpc':
      return 'message';
  }
}

function errorEncoding(s: Stream, transport: Transport): ErrorEncoding {
  if (s.errors.mode === 'in-band') return 'in-band-message';
  if (s.errors.mode === 'out-of-band') return transport === 'grpc' ? 'grpc-status' : 'close-code';
  return transport === 'grpc' ? 'grpc-status' : 'error-frame-then-close';
}

/** An object whose properties are scalars or arrays of scalars: it fits in a query string. */
export function isFlat(node: SchemaNode, types: ReadonlyMap<string, NamedType>): boolean {
  const obj = deref(node, types);
  if (obj.kind !== 'object' || obj.additional !== true && obj.additional !== false) return false;
  return obj.properties.every((p) => {
    const v = deref(p.schema, types);
    return isScalar(v, types) || (v.kind === 'array' && isScalar(deref(v.items, types), types));
  });
}

function isScalar(n: SchemaNode, types: ReadonlyMap<string, NamedType>): boolean {
  const d = deref(n, types);
  return ['string', 'integer', 'number', 'boolean', 'enum'].includes(d.kind) || (d.kind === 'literal' && d.value !== null);
}

export function deref(node: SchemaNode, types: ReadonlyMap<string, NamedType>): SchemaNode {
  let n = node;
  for (let i = 0; n.kind === 'ref' && i < 32; i++) n = types.get(n.target)?.schema ?? { kind: 'unknown', pos: n.pos };
  return n;
}
