// Transport fit (SS3xx): whether the chosen transport can carry each stream as the contract
// says, from the table in transports.ts. Errors say why and what to use instead.

import { diagnostic, type Diagnostic } from '../diagnostics.ts';
import { TRANSPORT_TRAITS } from '../ir/transports.ts';
import type { Contract, Transport } from '../ir/types.ts';

export function checkTransportFit(contract: Contract, transport: Transport): Diagnostic[] {
  const t = TRANSPORT_TRAITS[transport];
  const out: Diagnostic[] = [];
  for (const s of contract.streams) {
    const name = `stream "${s.name.wire}"`;
    if (!t.directions.includes(s.direction)) {
      out.push(
        diagnostic(
          'SS301',
          s.pos,
          `${name} is ${s.direction}, but ${t.label} carries only server-to-client streams. Use --transport websocket (or grpc for service consumers).`,
        ),
      );
    } else if (s.consumer === 'browser' && !t.browserDirections.includes(s.direction)) {
      out.push(
        diagnostic(
          'SS304',
          s.pos,
          `${name} is ${s.direction} with a browser consumer, but browsers can use gRPC only for server-to-client streams. Use --transport websocket, or set consumer: service.`,
        ),
      );
    }
    if (s.backpressure.kind === 'credit' && !t.credit) {
      out.push(
        diagnostic(
          'SS302',
          s.backpressure.pos,
          `${name} uses credit backpressure, but ${t.label} has no channel from client to server to carry credit grants. Use pull (the connection's own flow control), or --transport websocket.`,
        ),
      );
    }
    if (s.errors.mode === 'out-of-band' && !t.outOfBandErrors) {
      out.push(
        diagnostic(
          'SS303',
          s.errors.pos,
          `${name} has out-of-band errors, but ${t.label} has no status a browser can read once the stream has started. Use mode: fail-fast (an error frame, then close) or in-band.`,
        ),
      );
    }
    if (transport === 'websocket' && s.direction === 'server-to-client') {
      out.push(
        diagnostic(
          'SS305',
          s.pos,
          `${name} only flows from server to client, which WebSocket can carry but SSE carries with native reconnect and plain HTTP. Consider --transport sse.`,
        ),
      );
    }
    if (s.resume.kind !== 'none' && s.resume.kind !== t.resume) {
      out.push(
        diagnostic(
          'SS306',
          s.resume.pos,
          `${name} resumes by ${s.resume.kind}, but ${t.label}'s native resume is ${t.resume}; the generated code resumes by ${t.resume}. Write strategy: ${t.resume} to say what happens.`,
        ),
      );
    }
  }
  return out;
}
