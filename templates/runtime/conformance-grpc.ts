// The conformance checks' gRPC reader (conformance.ts runs the checks): it opens one rpc with the
// gRPC protocol over h2c (connect-node, a fresh HTTP/2 session per call, closed after it), sends
// the open message and the fixture's client messages, and records what comes back in the terms
// every transport shares, as docs/grpc.md "Wire" defines them:
// - a response `{ seq, <event> }` is a frame with id `<stream id>.<seq>`, the stream id from the
//   `streamspec-stream-id` response header;
// - a `heartbeat` event with seq 0 is a heartbeat;
// - the status the call ended with, and the contract code of its `streamspec-error-code` metadata.
// Strict where the generated client forgives: a response without a known event, a heartbeat with a
// seq, or numbered messages without a stream id header are malformed.

import { createRegistry, fromBinary, toBinary, type DescMessage, type DescMethodStreaming, type Message } from '@bufbuild/protobuf';
import { ConnectError } from '@connectrpc/connect';
import { createGrpcTransport, Http2SessionManager } from '@connectrpc/connect-node';
import { httpBase, numbered, type ConformanceStream, type Fixture, type GrpcReader, type GrpcStatus, type OpenOptions, type Recording, type Seen } from './conformance.js';
import type { GrpcTarget } from './grpc-call.js';
import { createCodec, openMessageJson, readOpenMessageJson } from './grpc-codec.js';
import { ERROR_CODE_KEY } from './grpc-status.js';

type Json = Record<string, unknown>;

/** gRPC status names by code, as the checks print them. */
const CODE_NAMES = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];

/** The reader of one stream's rpc, from what the generated clients know of it. */
export function grpcReader(target: GrpcTarget): GrpcReader {
  const types = createRegistry(target.file);
  const method = target.file.services[0]!.methods.find((m) => m.name === target.rpc);
  if (!method || method.methodKind === 'unary') throw new Error(`internal: rpc ${target.rpc} is not a streaming rpc of ${target.file.name}`);
  const open = types.getMessage(target.wire.open) as DescMessage;
  const codec = createCodec(target.plan);
  const events = new Map(Object.entries(target.wire.events).map(([type, field]) => [field, type]));
  const noPayload = new Set(target.noPayload);
  const { wire } = target;

  const openJson = (input: Fixture, resumeFrom?: string) => openMessageJson(wire, input.params, input.request, resumeFrom);

  /** The request messages of a call: the open message, then (client-to-server, bidirectional) the client's messages. */
  const requestsFor = (input: Fixture, options: OpenOptions): Message[] => {
    if (method.methodKind === 'server_streaming') return [codec.toMessage(open, openJson(input, options.resumeFrom))];
    const messages = (options.messages ?? input.messages ?? []) as readonly { type?: unknown; data?: unknown }[];
    return [
      codec.toMessage(method.input, { [wire.openCase!]: openJson(input, options.resumeFrom) }),
      ...messages.map((m) => {
        const key = typeof m.type === 'string' ? wire.clientEvents[m.type] : undefined;
        if (key === undefined) throw new Error(`the fixture's client message type ${JSON.stringify(m.type)} is not one of ${Object.keys(wire.clientEvents).join(', ')}`);
        return codec.toMessage(method.input, { [key]: noPayload.has(m.type as string) ? {} : m.data });
      }),
    ];
  };

  return {
    roundTrip(input) {
      let json: Json;
      try {
        // Through the wire format itself: what a field cannot hold is lost or refused there.
        json = codec.fromMessage(open, fromBinary(open, toBinary(open, codec.toMessage(open, openJson(input))))) as Json;
      } catch {
        return undefined; // protobuf cannot carry this input at all
      }
      // What the server reads off the open message.
      const { params, request } = readOpenMessageJson(wire, json);
      return { ...input, params, request };
    },

    async record(_stream: ConformanceStream, fixture: Fixture, baseUrl: string, options: OpenOptions): Promise<Recording> {
      const started = performance.now();
      const input = options.input ?? fixture;
      const requests = requestsFor(input, options);
      const seen: Seen[] = [];
      let malformed: string | undefined;
      let status: GrpcStatus | undefined;
      let contentType = '';
      let stopped = false;
      let timedOut = false;
      const ac = new AbortController();
      const stop = () => {
        stopped = true;
        ac.abort();
      };
      const timer = setTimeout(() => {
        timedOut = true;
        ac.abort();
      }, options.timeoutMs ?? 30_000);
      if (options.signal?.aborted) stop();
      options.signal?.addEventListener('abort', stop, { once: true });
      const base = httpBase(baseUrl);
      const session = new Http2SessionManager(base);
      async function* sent() {
        yield* requests;
        // The client stays in the stream (its side open) until the check stops reading.
        if (options.end === false && !ac.signal.aborted) await new Promise((r) => ac.signal.addEventListener('abort', r, { once: true }));
      }
      try {
        const res = await createGrpcTransport({ baseUrl: base, sessionManager: session }).stream(method as DescMethodStreaming, ac.signal, undefined, input.headers, sent());
        contentType = res.header.get('content-type') ?? '';
        const streamId = res.header.get('streamspec-stream-id');
        for await (const m of res.message as AsyncIterable<Message>) {
          const s = seenOf(m, performance.now() - started, streamId);
          if (typeof s === 'string') {
            malformed = s;
            stop();
            break;
          }
          seen.push(s);
          await options.onSeen?.(s);
          if (options.until?.(seen)) {
            stop();
            break;
          }
        }
        if (!stopped && !timedOut) status = { code: 0, name: 'OK', message: '', errorCode: undefined };
      } catch (e) {
        if (!stopped && !timedOut) {
          const ce = ConnectError.from(e);
          status = { code: ce.code, name: CODE_NAMES[ce.code] ?? `CODE_${ce.code}`, message: ce.rawMessage, errorCode: ce.metadata.get(ERROR_CODE_KEY) ?? undefined };
        }
      } finally {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', stop);
        ac.abort();
        session.abort();
      }
      return { status: 0, contentType, body: undefined, seen, ended: stopped ? 'stopped' : timedOut ? 'timeout' : 'end', malformed, ...(status ? { grpc: status } : {}) };
    },
  };

  /** One response in the shared terms, or what is wrong with it. */
  function seenOf(m: Message, at: number, streamId: string | null): Seen | string {
    let json: Json;
    try {
      json = codec.fromMessage(method!.output, m) as Json;
    } catch (e) {
      return `a response that cannot be read as contract JSON: ${(e as Error).message}`;
    }
    const seq = Number(json['seq']);
    if (Object.prototype.hasOwnProperty.call(json, wire.heartbeat)) {
      return seq === 0 ? { kind: 'heartbeat', at } : `a heartbeat with seq ${seq} (heartbeats are not numbered)`;
    }
    const key = Object.keys(json).find((k) => events.has(k));
    if (key === undefined) return `a response with seq ${seq} and no event of the contract`;
    const dropped = wire.dropped === undefined ? 0 : Number(json[wire.dropped] ?? 0);
    if (!Number.isSafeInteger(dropped) || dropped < 0) return `a response whose ${wire.dropped} is ${String(json[wire.dropped!])}, not a whole number`;
    if (streamId === null) return `message ${seq} arrived without a streamspec-stream-id response header (a client cannot resume)`;
    const type = events.get(key)!;
    return numbered(type, `${streamId}.${seq}`, noPayload.has(type) ? null : json[key], seq, at, dropped);
  }
}
