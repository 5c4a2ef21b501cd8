// The transport table of DESIGN §3, in one place: the fit checks (SS3xx) and `bind` both read it.

import type { Direction, Transport } from './types.ts';

export interface TransportTraits {
  readonly label: string;
  /** Directions the transport can carry at all. */
  readonly directions: readonly Direction[];
  /** Directions it can carry to a browser consumer. */
  readonly browserDirections: readonly Direction[];
  /** Whether the transport can carry client-to-server messages on the same connection. */
  readonly twoWay: boolean;
  /** Credit grants travel natively (a return channel exists). */
  readonly credit: boolean;
  /** Errors can travel outside the message stream (close codes, gRPC status). */
  readonly outOfBandErrors: boolean;
  /** The native resume mechanism. */
  readonly resume: 'last-event-id' | 'token';
  readonly framing: string;
  readonly termination: string;
  readonly heartbeat: string;
  /** What to suggest instead when a two-way stream meets a one-way transport. */
  readonly suggestion: string;
}

const ALL: readonly Direction[] = ['server-to-client', 'client-to-server', 'bidirectional'];

export const TRANSPORT_TRAITS: Readonly<Record<Transport, TransportTraits>> = {
  sse: {
    label: 'SSE',
    directions: ['server-to-client'],
    browserDirections: ['server-to-client'],
    twoWay: false,
    credit: false,
    outOfBandErrors: false,
    resume: 'last-event-id',
    framing: '`id:` `event:` `data:` lines',
    termination: 'terminal event, then close',
    heartbeat: '`:` comment',
    suggestion: 'websocket',
  },
  ndjson: {
    label: 'NDJSON',
    directions: ['server-to-client'],
    browserDirections: ['server-to-client'],
    twoWay: false,
    credit: false,
    outOfBandErrors: false,
    resume: 'token',
    framing: 'one JSON object a line',
    termination: 'terminal line, then zero-length chunk',
    heartbeat: 'heartbeat line',
    suggestion: 'websocket',
  },
  websocket: {
    label: 'WebSocket',
    directions: ALL,
    browserDirections: ALL,
    twoWay: true,
    credit: true,
    outOfBandErrors: true,
    resume: 'token',
    framing: 'one JSON text frame a message',
    termination: 'terminal frame, then close 1000',
    heartbeat: 'ping frame + heartbeat frame',
    suggestion: 'websocket',
  },
  grpc: {
    label: 'gRPC',
    directions: ALL,
    browserDirections: ['server-to-client'],
    twoWay: true,
    credit: true,
    outOfBandErrors: true,
    resume: 'token',
    framing: 'protobuf, one oneof event a message',
    termination: 'terminal message + OK status',
    heartbeat: 'heartbeat message',
    suggestion: 'websocket',
  },
};
