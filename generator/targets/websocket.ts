// Files the WebSocket transport adds to the common ones (types, validators, proto): see issue 4.
// The view model of the generated `server.ts` (templates/server/websocket.ts.hbs): handler types
// per direction and the stream descriptors runtime/ws-router.ts runs. Shared stream fields come
// from stream-view.ts; what only a two-way connection needs is decided here.

import type { BoundContract, BoundStream } from '../ir/bind.ts';
import type { Direction, NamedType } from '../ir/types.ts';
import type { Target } from './index.ts';
import { contractNames, streamView, typesByKey, type StreamView } from './stream-view.ts';
import { WEBSOCKET_CLIENT_RUNTIME, websocketClientView } from './websocket-client.ts';

/** Runtime modules (templates/runtime/) copied for this transport, beyond validation and errors. */
export const WEBSOCKET_RUNTIME: readonly string[] = [
  'frames.ts',
  'bounded-queue.ts',
  'replay-buffer.ts',
  'instance-registry.ts',
  'stream-pump.ts',
  'ws-router.ts',
  'control.ts',
  'conformance.ts',
  ...WEBSOCKET_CLIENT_RUNTIME,
];

/** Artifacts the design promises that this build cannot emit yet: none. */
export const WEBSOCKET_NOT_YET: readonly string[] = [];

export interface WebSocketStreamView extends StreamView {
  readonly direction: Direction;
  /** The stream has client messages: the handler's context has `messages`. */
  readonly sends: boolean;
  /** `T.RoomClientMessage`; `never` when the stream has none. */
  readonly clientMessageType: string;
  readonly validateClientMessage: string;
  readonly errorMode: 'fail-fast' | 'in-band' | 'out-of-band';
  /** The client's default initial grant, for a `credit` stream. */
  readonly credits: number | undefined;
  readonly heartbeatTimeoutMs: number;
}

export interface WebSocketServerView {
  readonly header: string;
  readonly handlersType: string;
  readonly streams: readonly WebSocketStreamView[];
}

export function websocketServerView(bound: BoundContract, header: string): WebSocketServerView {
  if (bound.transport !== 'websocket') throw new Error(`internal: websocketServerView for ${bound.transport}`);
  const types = typesByKey(bound);
  return { header, handlersType: contractNames(bound).handlersType, streams: bound.streams.map((b) => websocketStreamView(b, types)) };
}

function websocketStreamView(b: BoundStream, types: ReadonlyMap<string, NamedType>): WebSocketStreamView {
  const s = b.stream;
  const sends = s.direction !== 'server-to-client' && s.clientMessages.length > 0;
  return {
    ...streamView(b, types),
    direction: s.direction,
    sends,
    clientMessageType: sends ? `T.${s.typeNames.clientMessage}` : 'never',
    validateClientMessage: `v.validate${s.name.pascal}ClientMessage`,
    errorMode: s.errors.mode,
    credits: s.backpressure.kind === 'credit' ? s.backpressure.credits : undefined,
    heartbeatTimeoutMs: s.heartbeat.timeoutMs,
  };
}

export function websocketTargets(bound: BoundContract, tsHeader: string): Target[] {
  return [
    { kind: 'template', path: 'server.ts', template: 'server/websocket.ts.hbs', context: websocketServerView(bound, tsHeader), finish: 'ts' },
    { kind: 'template', path: 'client.ts', template: 'client/websocket.ts.hbs', context: websocketClientView(bound, tsHeader), finish: 'ts' },
  ];
}
