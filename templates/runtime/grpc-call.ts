// The call logic both gRPC clients share (Node on connect-node, browser on connect-web): the HTTP
// client's API over a Connect transport. An AsyncIterable of `{ type, id, data }` that ends right
// after the terminal message, typed errors, resume and reconnect with backoff and jitter
// (server-streaming), plus `send` / `close` for client-to-server and bidirectional streams.
// Nothing here is Node-only: the transport is given. docs/grpc.md is the wire protocol.

import { createRegistry, type DescFile, type DescMessage, type DescMethod, type Message as ProtoMessage } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient, type Transport } from '@connectrpc/connect';
import { StreamError, StreamInterruptedError, StreamProtocolError } from './errors.js';
import { createCodec, openMessageJson, type CodecPlan } from './grpc-codec.js';
import { ERROR_CODE_KEY, fromConnectError } from './grpc-status.js';
import type { GrpcWirePlan } from './grpc-server.js';

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** What every client takes, whatever carries the calls. */
export interface CallClientOptions {
  /** Asked again at every (re)connect, so short-lived tokens stay fresh. */
  readonly headers?: () => HeadersInit | Promise<HeadersInit>;
  /** Backoff cap in ms; default 30000. */
  readonly maxRetryMs?: number;
  /** Consecutive connects without a message before giving up; default 10. */
  readonly maxAttempts?: number;
}

export interface StreamCallOptions {
  readonly signal?: AbortSignal;
  /** An id from an earlier session: the first call resumes after it. */
  readonly resumeFrom?: string;
  readonly onState?: (state: ConnectionState) => void;
}

export interface StreamCall<M> extends AsyncIterable<M> {
  readonly state: ConnectionState;
  /** The id of the last message delivered: pass it as `resumeFrom` to continue in a later session. */
  readonly lastId: string | undefined;
  /** How many messages the server discarded (lossy streams). */
  readonly dropped: number;
}

/** A call that also carries the client's messages. */
export interface SendingStreamCall<M, C> extends StreamCall<M> {
  /**
   * Queues a message. Resolves at once while fewer than the contract's `buffer` messages wait,
   * else once the transport has taken it (HTTP/2 flow control is the backpressure).
   */
  send(message: C): Promise<void>;
  /** Ends the client's side; the server then finishes with the terminal message. */
  close(): void;
}

export type { CodecPlan } from './grpc-codec.js';

/** What the generated code knows about one stream. */
export interface GrpcTarget {
  readonly file: DescFile;
  readonly plan: CodecPlan;
  readonly rpc: string;
  readonly wire: GrpcWirePlan;
  readonly noPayload: readonly string[];
  readonly terminal: string;
  /** Heartbeat timeout: silence longer than this means a dead connection, never "finished". */
  readonly idleMs: number;
  readonly resume: boolean;
  /** The contract's backpressure buffer: how many sent messages may wait before `send` blocks. */
  readonly buffer: number;
}

type Json = Record<string, unknown>;
type Msg = { type: string; id: string; data: unknown };

const ID = /^([\w-]{22})\.([1-9]\d{0,14})$/;

/**
 * Status codes after which a server-streaming call is tried again (with resume when it has one).
 * Canceled too: connect-node reports a connection cut under an HTTP/2 call (RST_STREAM CANCEL)
 * that way; the caller's own abort is handled before this is consulted.
 */
const TRANSIENT = new Set<Code>([Code.Unavailable, Code.Unknown, Code.Internal, Code.Aborted, Code.DeadlineExceeded, Code.Canceled]);

export function openCall<M extends Msg, C extends { type: string; data?: unknown } = never>(
  transport: Transport,
  client: CallClientOptions,
  target: GrpcTarget,
  args: { params?: unknown; request?: unknown } & StreamCallOptions,
): SendingStreamCall<M, C> {
  const types = createRegistry(target.file);
  const service = target.file.services[0]!;
  const method: DescMethod = service.methods.find((m) => m.name === target.rpc)!;
  const input = method.input;
  const output = method.output;
  const open = types.getMessage(target.wire.open) as DescMessage;
  const codec = createCodec(target.plan);
  const noPayload = new Set(target.noPayload);
  const events = new Map(Object.entries(target.wire.events).map(([wire, json]) => [json, wire]));
  const sends = target.wire.openCase !== undefined;
  const reconnects = method.methodKind === 'server_streaming';
  const { signal, onState } = args;

  let state: ConnectionState = 'connecting';
  let lastId = args.resumeFrom;
  let dropped = 0;
  let consumed = false;
  const setState = (s: ConnectionState) => {
    if (s === state) return;
    state = s;
    onState?.(s);
  };

  // The client's messages, in order, until close(); each send resolves once the transport takes it.
  const outbox: { m: C; taken: () => void }[] = [];
  // Client messages handed to a transport: once any is, a call can no longer be opened again.
  let sent = 0;
  let closed = false;
  let wakeOutbox: (() => void) | undefined;
  const poke = () => {
    const w = wakeOutbox;
    wakeOutbox = undefined;
    w?.();
  };

  const openJson = () => openMessageJson(target.wire, args.params, args.request, lastId);
  const clientMessage = (m: C): ProtoMessage => {
    const key = target.wire.clientEvents[m.type];
    if (key === undefined) throw new TypeError(`unknown client message type ${JSON.stringify(m.type)}`);
    return codec.toMessage(input, { [key]: noPayload.has(m.type) ? {} : m.data });
  };
  // Each call's request generator has its generation: one left parked by a failed call must not
  // take a message from the outbox once its call has ended (it would go to a dead call).
  let generation = 0;
  async function* requests(): AsyncGenerator<ProtoMessage> {
    const mine = ++generation;
    yield codec.toMessage(input, { [target.wire.openCase!]: openJson() });
    for (;;) {
      if (mine !== generation) return;
      const next = outbox.shift();
      if (next) {
        next.taken();
        sent++;
        yield clientMessage(next.m);
        continue;
      }
      if (closed) return;
      await new Promise<void>((r) => (wakeOutbox = r));
    }
  }

  const connect = (ac: AbortController, headers: HeadersInit | undefined, onHeader: (h: Headers) => void): AsyncIterable<ProtoMessage> => {
    const rpc = createClient(service, transport) as unknown as Record<string, (...a: unknown[]) => unknown>;
    const call = rpc[method.localName]!;
    const opts = { signal: ac.signal, headers, onHeader };
    if (method.methodKind === 'server_streaming') return call(codec.toMessage(open, openJson()), opts) as AsyncIterable<ProtoMessage>;
    if (method.methodKind === 'bidi_streaming') return call(requests(), opts) as AsyncIterable<ProtoMessage>;
    // Client-streaming: one response.
    const single = call(requests(), opts) as Promise<ProtoMessage>;
    return {
      async *[Symbol.asyncIterator]() {
        yield await single;
      },
    };
  };

  async function* run(): AsyncGenerator<M, void, void> {
    let attempts = 0;
    // UNAUTHENTICATED since the last message: the first is tried again with headers asked for
    // anew (a token may have expired), the second ends the call; never a retry loop.
    let unauthenticated = 0;
    let seq = lastId !== undefined ? Number(ID.exec(lastId)?.[2] ?? NaN) : 0;
    let streamId = lastId !== undefined ? ID.exec(lastId)?.[1] : undefined;
    if (lastId !== undefined && (!target.resume || streamId === undefined)) throw new StreamProtocolError(`cannot resume from ${JSON.stringify(lastId)}`);
    const maxAttempts = client.maxAttempts ?? 10;
    // Reported like the HTTP and WebSocket clients: connecting, open, (reconnecting, open)..., closed.
    onState?.('connecting');
    for (;;) {
      if (signal?.aborted) {
        setState('closed');
        throw signal.reason;
      }
      const ac = new AbortController();
      const abort = () => ac.abort();
      signal?.addEventListener('abort', abort, { once: true });
      // Silence longer than the heartbeat timeout: the connection is dead (reconnect), never finished.
      let idle: ReturnType<typeof setTimeout> | undefined;
      let idleFired = false;
      const alive = () => {
        clearTimeout(idle);
        idle = setTimeout(() => {
          idleFired = true;
          ac.abort();
        }, target.idleMs);
      };
      let failure: unknown;
      let got = false; // a response arrived on this attempt
      try {
        alive();
        const headers = await client.headers?.();
        const responses = connect(ac, headers, (h) => {
          const id = h.get('streamspec-stream-id');
          if (id) streamId = id;
        });
        for await (const res of responses) {
          got = true;
          alive();
          setState('open');
          const json = codec.fromMessage(output, res) as Json;
          const key = Object.keys(json).find((k) => events.has(k));
          if (key === undefined) continue; // a heartbeat
          const type = events.get(key)!;
          const n = Number(json.seq);
          // One above the last, or 1 on a fresh client-streaming response; anything else is a gap.
          if (n !== seq + 1) throw new StreamProtocolError(`message ${n} of stream ${target.rpc} after ${seq}: a gap, repeat or reordering`);
          seq = n;
          if (target.wire.dropped !== undefined) dropped += Number(json[target.wire.dropped] ?? 0);
          const id = `${streamId ?? 'unnumbered'}.${n}`;
          if (streamId !== undefined) lastId = id;
          attempts = unauthenticated = 0;
          yield { type, id, data: noPayload.has(type) ? null : json[key] } as M;
          if (type === target.terminal) return setState('closed');
        }
        failure = new StreamInterruptedError(`stream ${target.rpc} ended without its terminal message`);
      } catch (e) {
        if (signal?.aborted) {
          setState('closed');
          // As the HTTP clients do: the pull after an abort throws the signal's reason.
          throw signal.reason;
        }
        if (e instanceof StreamProtocolError || e instanceof StreamError || e instanceof TypeError) {
          setState('closed');
          throw e;
        }
        const ce = ConnectError.from(e);
        // Nothing of a rejected call was delivered, so it can be opened again unless a client
        // message already went out (it cannot be replayed).
        // Only a refusal before anything arrived is the hook's: a handler's UNAUTHENTICATED later in
        // the call is its error, and reopening would run the handler again.
        const unknownCaller = ce.code === Code.Unauthenticated && !idleFired && !got;
        if (unknownCaller && unauthenticated++ === 0 && sent === 0) {
          // Straight back, without backoff or counting an attempt: only the headers change.
          setState('reconnecting');
          continue;
        }
        if (unknownCaller) {
          setState('closed');
          throw ce.metadata.get(ERROR_CODE_KEY) ? fromConnectError(ce) : new StreamError('UNAUTHENTICATED', ce.rawMessage);
        }
        if (ce.metadata.get(ERROR_CODE_KEY)) {
          setState('closed');
          throw fromConnectError(ce);
        }
        if (!idleFired && !TRANSIENT.has(ce.code)) {
          setState('closed');
          throw fromConnectError(ce);
        }
        failure = new StreamInterruptedError(idleFired ? `stream ${target.rpc} was silent for ${target.idleMs} ms` : `stream ${target.rpc}: ${ce.message}`);
      } finally {
        clearTimeout(idle);
        signal?.removeEventListener('abort', abort);
        ac.abort();
        // Retire this attempt's request generator, waking it if parked, so it returns instead of
        // taking a message queued for the next attempt (a send() during the headers refresh).
        generation++;
        poke();
      }
      // Only a server-streaming call can be opened again: a client's messages cannot be replayed.
      const canResume = reconnects && (lastId === undefined ? seq === 0 : target.resume);
      if (!canResume || ++attempts > maxAttempts) {
        setState('closed');
        throw failure;
      }
      setState('reconnecting');
      const cap = client.maxRetryMs ?? 30000;
      const ms = Math.min(cap, 100 * 2 ** (attempts - 1)) * (0.5 + Math.random() / 2);
      await new Promise<void>((r) => {
        const t = setTimeout(r, ms);
        signal?.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
      });
    }
  }

  return {
    get state() {
      return state;
    },
    get lastId() {
      return lastId;
    },
    get dropped() {
      return dropped;
    },
    [Symbol.asyncIterator]() {
      if (consumed) throw new TypeError('a stream call can be iterated once');
      consumed = true;
      return run();
    },
    send(m: C) {
      if (!sends) return Promise.reject(new TypeError(`stream ${target.rpc} takes no client messages`));
      if (closed) return Promise.reject(new TypeError('send after close'));
      return new Promise<void>((taken) => {
        // Up to `buffer` messages wait without blocking the sender (so it may send before iterating).
        if (outbox.length < target.buffer) {
          outbox.push({ m, taken: () => {} });
          taken();
        } else outbox.push({ m, taken });
        poke();
      });
    },
    close() {
      closed = true;
      poke();
    },
  };
}
