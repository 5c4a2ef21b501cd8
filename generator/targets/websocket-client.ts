// View model of the generated WebSocket `client.ts` (templates/client/websocket.ts.hbs): typed
// functions over runtime/ws-client.ts. The fields every transport shares come from
// stream-view.ts; what only a two-way connection needs is decided here, and the rules the
// server's view (websocket.ts) must decide the same way are exported from here.

import type { BoundContract } from '../ir/bind.ts';
import type { Stream } from '../ir/types.ts';
import { tsString } from '../render/escape.ts';
import { contractNames, streamView, typesByKey, type PathPart, type StreamView } from './stream-view.ts';

/** Runtime modules the generated WebSocket client imports (client.ts for its types only). */
export const WEBSOCKET_CLIENT_RUNTIME: readonly string[] = ['client.ts', 'ws-client.ts'];

/** The stream carries client messages over WebSocket: the handler gets `messages`, the call `send()`. */
export const sendsClientMessages = (s: Stream): boolean => s.direction !== 'server-to-client' && s.clientMessages.length > 0;

/** The open frame's default grant of server frames: `backpressure.credits` for a credit stream, else `buffer`. */
export const initialCredits = (s: Stream): number => (s.backpressure.kind === 'credit' ? s.backpressure.credits : s.backpressure.buffer);

/**
 * The TS expression of a stream's path with the call's params: literals through `tsString`,
 * params through `encodeURIComponent`, `args.params` keyed by `tsString` of the wire name.
 */
export function pathExpression(path: readonly PathPart[]): string {
  const parts = path.map((p) => (p.literal !== undefined ? tsString(p.literal) : `encodeURIComponent(String(args.params[${tsString(p.param!)}]))`));
  return parts.length > 0 ? parts.join(' + ') : '""';
}

export interface WebSocketClientStreamView
  extends Pick<StreamView, 'wire' | 'doc' | 'method' | 'openFn' | 'messageType' | 'paramsType' | 'requestType' | 'hasRequest' | 'terminal' | 'resume' | 'idleMs' | 'codes'> {
  /** The stream has client messages: the call gets `send()` and `close()`. */
  readonly sends: boolean;
  /** `T.RoomClientMessage`, when `sends`. */
  readonly clientMessageType: string | undefined;
  /** The call's type: `StreamCall<M>` or `WsStreamCall<M, C>`. */
  readonly callType: string;
  /** The open frame's grant (initialCredits). */
  readonly credits: number;
  /** The finished TS expression of the path, e.g. `"/v1/rooms/" + encodeURIComponent(String(args.params["roomId"]))`. */
  readonly pathExpression: string;
}

export interface WebSocketClientView {
  readonly header: string;
  readonly clientType: string;
  readonly streams: readonly WebSocketClientStreamView[];
}

export function websocketClientView(bound: BoundContract, header: string): WebSocketClientView {
  if (bound.transport !== 'websocket') throw new Error(`internal: websocketClientView for ${bound.transport}`);
  const types = typesByKey(bound);
  return {
    header,
    clientType: contractNames(bound).clientType,
    streams: bound.streams.map((b) => {
      const h = streamView(b, types);
      const s = b.stream;
      const sends = sendsClientMessages(s);
      const clientMessageType = sends ? `T.${s.typeNames.clientMessage}` : undefined;
      return {
        wire: h.wire,
        doc: h.doc,
        method: h.method,
        openFn: h.openFn,
        messageType: h.messageType,
        paramsType: h.paramsType,
        requestType: h.requestType,
        hasRequest: h.hasRequest,
        terminal: h.terminal,
        resume: h.resume,
        idleMs: h.idleMs,
        codes: h.codes,
        sends,
        clientMessageType,
        callType: sends ? `WsStreamCall<${h.messageType}, ${clientMessageType}>` : `StreamCall<${h.messageType}>`,
        credits: initialCredits(s),
        pathExpression: pathExpression(h.path),
      };
    }),
  };
}
