// View model of the generated WebSocket `client.ts` (templates/client/websocket.ts.hbs): typed
// functions over runtime/ws-client.ts. The fields every transport shares come from
// stream-view.ts; what only a two-way connection needs is decided here.

import type { BoundContract } from '../ir/bind.ts';
import { contractNames, streamView, typesByKey, type StreamView } from './stream-view.ts';

/** Runtime modules the generated WebSocket client imports (client.ts for its types only). */
export const WEBSOCKET_CLIENT_RUNTIME: readonly string[] = ['client.ts', 'ws-client.ts'];

export interface WebSocketClientStreamView
  extends Pick<StreamView, 'wire' | 'doc' | 'method' | 'openFn' | 'messageType' | 'paramsType' | 'requestType' | 'hasRequest' | 'terminal' | 'path' | 'resume' | 'idleMs' | 'codes'> {
  /** The stream has client messages: the call gets `send()` and `close()`. */
  readonly sends: boolean;
  /** `T.RoomClientMessage`, when `sends`. */
  readonly clientMessageType: string | undefined;
  /** The call's type: `StreamCall<M>` or `WsStreamCall<M, C>`. */
  readonly callType: string;
  /** The open frame's grant: `backpressure.credits` for a credit stream, else `buffer`. */
  readonly credits: number;
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
      // As the server's view decides it (websocket.ts): a stream with client messages to send.
      const sends = s.direction !== 'server-to-client' && s.clientMessages.length > 0;
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
        path: h.path,
        resume: h.resume,
        idleMs: h.idleMs,
        codes: h.codes,
        sends,
        clientMessageType,
        callType: sends ? `WsStreamCall<${h.messageType}, ${clientMessageType}>` : `StreamCall<${h.messageType}>`,
        credits: s.backpressure.kind === 'credit' ? s.backpressure.credits : s.backpressure.buffer,
      };
    }),
  };
}
