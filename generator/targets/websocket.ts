// Files the WebSocket transport adds to the common ones (types, validators, proto): see issue 4.
// The view model of the generated `server.ts` (templates/server/websocket.ts.hbs): handler types
// per direction and the stream descriptors runtime/ws-router.ts runs, as finished literals. Shared
// stream fields come from stream-view.ts; the rules the client's view must decide the same way
// (which streams send, the initial credit) from websocket-client.ts.

import type { BoundContract, BoundStream } from '../ir/bind.ts';
import type { NamedType } from '../ir/types.ts';
import { code, tsValue } from '../render/escape.ts';
import type { Target } from './index.ts';
import { contractNames, streamView, typesByKey, type StreamView } from './stream-view.ts';
import { initialCredits, sendsClientMessages, WEBSOCKET_CLIENT_RUNTIME, websocketClientView } from './websocket-client.ts';

/** Runtime modules (templates/runtime/) copied for this transport, beyond validation and errors. */
export const WEBSOCKET_RUNTIME: readonly string[] = [
  'auth.ts',
  'frames.ts',
  'bounded-queue.ts',
  'replay-buffer.ts',
  'instance-registry.ts',
  'injector.ts',
  'stream-pump.ts',
  'ws-router.ts',
  'control.ts',
  'conformance.ts',
  ...WEBSOCKET_CLIENT_RUNTIME,
];

export interface WebSocketStreamView extends StreamView {
  /** The stream has client messages: the handler's context has `messages`. */
  readonly sends: boolean;
  /** `T.RoomClientMessage`; `never` when the stream has none. */
  readonly clientMessageType: string;
  /** The stream's WebSocketDescriptor as a finished TS object literal. */
  readonly descriptorLiteral: string;
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

/** Generated code inside a literal (a validator's name), printed as is; everything else is data. */
function websocketStreamView(b: BoundStream, types: ReadonlyMap<string, NamedType>): WebSocketStreamView {
  const s = b.stream;
  const view = streamView(b, types);
  const sends = sendsClientMessages(s);
  // Keys in the order of WebSocketDescriptor (runtime/ws-router.ts); undefined ones are left out.
  const descriptor = {
    name: view.wire,
    path: view.path.map((p) => (p.literal !== undefined ? p.literal : { param: p.param })),
    direction: s.direction,
    validateParams: code(view.validateParams),
    validateRequest: view.hasRequest ? code(view.validateRequest) : undefined,
    validateMessage: code(view.validateMessage),
    validateClientMessage: sends ? code(`v.validate${s.name.pascal}ClientMessage`) : undefined,
    terminal: view.terminal,
    errors: { mode: s.errors.mode, message: view.errorMessage, codes: view.codes },
    backpressure: { kind: view.backpressureKind, buffer: view.buffer, intervalMs: view.intervalMs, credits: initialCredits(s) },
    resume: view.resume ? { messages: view.retentionMessages, seconds: view.retentionSeconds } : undefined,
    heartbeatMs: view.heartbeatMs,
    heartbeatTimeoutMs: s.heartbeat.timeoutMs,
    auth: view.auth,
  };
  return {
    ...view,
    sends,
    clientMessageType: sends ? `T.${s.typeNames.clientMessage}` : 'never',
    descriptorLiteral: tsValue(descriptor),
  };
}

export function websocketTargets(bound: BoundContract, tsHeader: string): Target[] {
  return [
    { kind: 'template', path: 'server.ts', template: 'server/websocket.ts.hbs', context: websocketServerView(bound, tsHeader), finish: 'ts' },
    { kind: 'template', path: 'client.ts', template: 'client/websocket.ts.hbs', context: websocketClientView(bound, tsHeader), finish: 'ts' },
  ];
}
