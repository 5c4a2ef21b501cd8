// The gRPC side of a contract: one Connect service whose rpcs run the generated handlers. The
// handler shape is the HTTP transports' (an async generator of `{ type, data }`, returning the
// terminal message; `ctx.messages` for client messages); this module converts between that and
// the rpc's `oneof event` messages, and adds what the contract asks for: sequence numbers,
// heartbeats, resume by token, errors as gRPC status. docs/grpc.md is the wire protocol.
//
// Backpressure is Connect's: it pulls the next response only once the previous one is written
// to the HTTP/2 stream, which waits on the peer's flow-control window. The pump (shared with
// the HTTP transports) keeps at most one batch of `buffer` messages between handler and Connect.

import { createRegistry, fromBinary, type DescFile, type DescMessage, type DescMethod, type DescService, type Message as ProtoMessage } from '@bufbuild/protobuf';
import { Code, ConnectError, cors as connectCors, createContextKey, createContextValues, type ConnectRouter, type HandlerContext as ConnectContext } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { createServer as createHttp1Server } from 'node:http';
import { createServer as createHttp2Server } from 'node:http2';
import { createServer as createNetServer, type Server } from 'node:net';
import {
  authenticate,
  checkAuthSetup,
  createStreamLimiter,
  DEFAULT_MAX_STREAMS_PER_PRINCIPAL,
  parseCookies,
  type AuthMode,
  type AuthOptions,
  type AuthOutcome,
} from './auth.js';
import { CONTROL_PATH, createControl, held, pumpStats, type Control, type InstanceStats } from './control.js';
import { StreamError } from './errors.js';
import { checkMessage, ContractViolation, errorData, issueText, newStreamId, startHandler, type BaseHandlerContext, type CommonRouterOptions, type ErrorData, type Message, type StreamShape } from './frames.js';
import { binaryEncoder, preEncoder } from './grpc-binary.js';
import { createCodec, readOpenMessageJson, type CodecPlan } from './grpc-codec.js';
import { ERROR_CODE_KEY, RETRYABLE_KEY, toConnectError } from './grpc-status.js';
import { createInjector, type Injector } from './injector.js';
import { createInstanceRegistry, lookupResume, openInstance, type StreamInstance } from './instance-registry.js';
import { pump, quietTimer, type PumpEnd } from './stream-pump.js';
import type { Issue } from './validation.js';

export { StreamError } from './errors.js';
export type { AuthMode, AuthRequest, Authenticate } from './auth.js';
export { ContractViolation, type Message } from './frames.js';
export type { CodecPlan } from './grpc-codec.js';

/** Response header naming the stream instance; a message's id is `<stream id>.<seq>`. */
export const STREAM_ID_HEADER = 'streamspec-stream-id';

/** How one stream's messages sit in its rpc's messages (proto.ts, ProtoStreamPlan). */
export interface GrpcWirePlan {
  readonly open: string;
  readonly openCase?: string | undefined;
  readonly params: Readonly<Record<string, string>>;
  readonly requestVia?: 'inline' | { readonly field: string } | undefined;
  readonly resumeToken?: string | undefined;
  readonly events: Readonly<Record<string, string>>;
  readonly clientEvents: Readonly<Record<string, string>>;
  readonly heartbeat: string;
  readonly dropped?: string | undefined;
}

/** The HTTP transports' stream shape, routed by rpc instead of by path. */
export interface GrpcStreamDescriptor extends Omit<StreamShape, 'path'> {
  /** The rpc's name in the service. */
  readonly rpc: string;
  readonly wire: GrpcWirePlan;
  /** Message types (server and client) without a payload: `data` is null. */
  readonly noPayload: readonly string[];
  readonly validateClientMessage?: (m: unknown) => Issue[];
  readonly backpressure: {
    readonly kind: 'pull' | 'credit' | 'block' | 'drop-oldest' | 'drop-newest' | 'sample';
    readonly buffer: number;
    readonly intervalMs?: number;
  };
  /** The contract's `auth`; absent: required when the router has an `authenticate` hook. */
  readonly auth?: AuthMode;
}

/** `headers`: the call's request metadata. */
export interface HandlerContext extends BaseHandlerContext {
  /** Client-to-server and bidirectional streams: the client's messages, validated, in order. */
  readonly messages: AsyncIterable<any>;
}

export type StreamHandler = (ctx: HandlerContext) => AsyncIterator<{ type: string; data?: unknown }, { type: string; data?: unknown } | void>;

/**
 * `cors`: browsers on another origin need it; Connect's request headers and methods are allowed,
 * and the stream id and error-code headers exposed. `authenticate` runs before every call (a
 * resume included) reads or sends a message; `principalId` and `maxStreamsPerPrincipal` are
 * documented in auth.ts.
 */
export interface RouterOptions<P = unknown> extends AuthOptions<P>, CommonRouterOptions {}

/** The peer's address, put in each call's context by the node adapter (Connect's context has none). */
const REMOTE_ADDRESS = createContextKey<string | undefined>(undefined, { description: 'streamspec remote address' });
/**
 * Set by the adapter the router builds, whose serializer writes unknown fields and which has no
 * interceptors: its binary calls are sent responses encoded here (grpc-binary.ts). A router a
 * user mounts `routes` in may have either, so its calls get ordinary messages.
 */
const PRE_ENCODED = createContextKey(false, { description: 'streamspec pre-encoded responses' });
/** How a replay buffer keeps an error: a NUL, never the first byte of a message (no field is numbered 0), then its JSON. */
const ERROR_MARK = '\0';

export interface GrpcRouter {
  /** Registers the service on a Connect router (connect-express, connect-fastify, a custom one). */
  routes(router: ConnectRouter): void;
  /**
   * A node:http / node:http2 request handler serving Connect, gRPC-web and gRPC on one port:
   * `http2.createServer({ allowHTTP1: true }, router.node)`.
   */
  readonly node: ReturnType<typeof connectNodeAdapter>;
  /** Aborts running handlers; later calls fail with UNAVAILABLE. */
  close(): void;
}

/** The stored form of an error that ended a call, so a resume ends the same way. */
interface StoredError {
  readonly $error: ErrorData;
}

type Json = Record<string, unknown>;

export function createGrpcRouter<P = unknown>(
  file: DescFile,
  service: DescService,
  plan: CodecPlan,
  routes: readonly (readonly [GrpcStreamDescriptor, StreamHandler])[],
  options: RouterOptions<P> = {},
): GrpcRouter {
  checkAuthSetup(
    routes.map(([d]) => d),
    options as AuthOptions<unknown>,
  );
  const types = createRegistry(file);
  const codec = createCodec(plan);
  const onError = options.onError ?? ((error: unknown, stream: string) => console.error(`streamspec: stream ${stream}:`, error));
  const report = (error: unknown, stream: string) => {
    try {
      onError(error, stream);
    } catch {
      // A failing error reporter must not take the server down either.
    }
  };
  const validateOutput = options.validateOutput ?? true;
  const registry = createInstanceRegistry({ maxInstances: options.maxInstances ?? 10000, ...(options.now ? { now: options.now } : {}) });
  const running = new Set<AbortController>();
  const maxStreams = options.maxStreamsPerPrincipal ?? DEFAULT_MAX_STREAMS_PER_PRINCIPAL;
  const limiter = createStreamLimiter(maxStreams);
  const control = options.conformanceControl ? createControl() : undefined;
  const tooMany = () => toConnectError('RESOURCE_EXHAUSTED', `at most ${maxStreams} streams may be open at once for one principal`, false);
  let closed = false;

  const message = (name: string): DescMessage => {
    const m = types.getMessage(name);
    if (!m) throw new Error(`internal: message ${name} is not in ${file.name}`);
    return m;
  };

  const bind = (d: GrpcStreamDescriptor, handler: StreamHandler) => {
    const method = service.methods.find((m) => m.name === d.rpc);
    if (!method) throw new Error(`internal: rpc ${d.rpc} is not in ${service.typeName}`);
    const input = method.input;
    const output = method.output;
    const openDesc = message(d.wire.open);
    const noPayload = new Set(d.noPayload);
    const clientTypes = new Map(Object.entries(d.wire.clientEvents).map(([wire, json]) => [json, wire]));
    // frames.ts's checks read the name, terminal and validators; a gRPC stream has an rpc, no path.
    const shape: StreamShape = { ...d, path: [] };

    const invalid = (issues: readonly Issue[]) => toConnectError('INVALID_REQUEST', issueText(issues), false);

    /** params, request and resume token from the open message's contract JSON. */
    const opening = (open: Json) => {
      const { params, request, token } = readOpenMessageJson(d.wire, open);
      const issues = [...d.validateParams(params), ...(d.validateRequest ? d.validateRequest(request) : [])];
      if (issues.length > 0) throw invalid(issues);
      return { params, request, token: typeof token === 'string' && token !== '' ? token : undefined };
    };

    /** Contract JSON of a client's message; one proto3 JSON cannot express is the client's fault. */
    const decode = (desc: DescMessage, m: ProtoMessage, opening = false): Json => {
      try {
        return codec.fromMessage(desc, m) as Json;
      } catch (e) {
        const message = `a message cannot be read: ${(e as Error).message}`;
        // Before the handler runs the call ends with a status; after, the handler's iterator throws.
        throw opening ? toConnectError('INVALID_REQUEST', message, false) : new StreamError('INVALID_REQUEST', message);
      }
    };

    const firstOpen = async (it: AsyncIterator<ProtoMessage>) => {
      const first = await it.next();
      const json = first.done ? undefined : decode(input, first.value, true);
      const open = json && d.wire.openCase !== undefined ? json[d.wire.openCase] : undefined;
      if (typeof open !== 'object' || open === null)
        throw invalid([{ path: 'open', message: 'the first message of the call must be `open`' }]);
      return opening(open as Json);
    };

    /** A client's message as the handler sees it, or why it breaks the contract. */
    const clientMessage = (p: ProtoMessage): Message | StreamError => {
      let json: Json;
      try {
        json = decode(input, p);
      } catch (e) {
        return e as StreamError;
      }
      const key = Object.keys(json).find((k) => clientTypes.has(k));
      if (key === undefined) return new StreamError('INVALID_REQUEST', 'a client message has no known event');
      const type = clientTypes.get(key)!;
      const m = { type, data: noPayload.has(type) ? null : json[key] };
      const issues = d.validateClientMessage ? d.validateClientMessage(m) : [];
      return issues.length > 0 ? new StreamError('INVALID_REQUEST', issueText(issues)) : m;
    };

    /**
     * The client's valid messages, in order. Without `inject` an invalid one is thrown at the
     * handler, which ends the iterator (and, unless the handler catches it, the call). With it
     * (in-band errors, bidirectional) the message is skipped, its error joins the responses and
     * the stream goes on; while `buffer` errors wait to be sent nothing more is read, so HTTP/2
     * flow control holds back a client that sends faster than it reads.
     */
    async function* clientMessages(it: AsyncIterator<ProtoMessage>, inject?: Injector): AsyncGenerator<Message, void, void> {
      for (;;) {
        if (inject && !(await inject.room())) return;
        const r = await it.next();
        if (r.done) return;
        const m = clientMessage(r.value);
        if (!(m instanceof StreamError)) yield m;
        else if (!inject) throw m;
        else inject.push({ type: d.errors.message!, data: { code: m.code, message: m.message } });
      }
    }

    const check = (m: unknown, terminal: boolean): Message => checkMessage(shape, m, terminal, validateOutput);

    /**
     * The hook's answer for this call, before the server reads a client message or sends one:
     * a rejection ends the call with UNAUTHENTICATED / PERMISSION_DENIED. A hook that fails
     * otherwise is a server fault, reported, and the caller sees only INTERNAL.
     */
    const admit = async (ctx: ConnectContext, resumeFrom: string | undefined): Promise<Extract<AuthOutcome<P>, { kind: 'ok' }>> => {
      let who: AuthOutcome<P>;
      try {
        who = await authenticate(d.auth, options, {
          stream: d.name,
          headers: ctx.requestHeader,
          cookies: parseCookies(ctx.requestHeader.get('cookie')),
          // A gRPC call has no query string; credentials travel in metadata.
          query: new URLSearchParams(),
          remoteAddress: ctx.values.get(REMOTE_ADDRESS),
          resumeFrom,
        });
      } catch (error) {
        report(error, d.name);
        // A server fault, not a verdict: UNAVAILABLE without a contract code, which clients retry
        // (as a 500 is retried over HTTP), so an auth backend's blip does not end a stream for good.
        throw new ConnectError('internal error', Code.Unavailable);
      }
      if (who.kind === 'denied') throw toConnectError(who.code, who.message, false);
      return who;
    };
    type Admitted = Awaited<ReturnType<typeof admit>>;
    /** What a streaming call starts from: the caller let in, the open message read. */
    interface Begun {
      readonly open: ReturnType<typeof opening>;
      readonly messages: AsyncIterable<Message>;
      readonly who: Admitted;
      readonly inject?: Injector | undefined;
    }

    /** The resume token of a server-streaming request, read leniently: the hook sees it before anything is validated. */
    const tokenOf = (req: ProtoMessage): string | undefined => {
      if (d.wire.resumeToken === undefined) return undefined;
      try {
        const token = (codec.fromMessage(openDesc, req) as Json)[d.wire.resumeToken];
        return typeof token === 'string' && token !== '' ? token : undefined;
      } catch {
        return undefined;
      }
    };

    /** The contract JSON of the response carrying `m`, numbered `seq` (what the replay buffer keeps, as text). */
    const response = (m: Message, seq: number, dropped: number): Json => {
      const json: Json = { seq, [d.wire.events[m.type]!]: noPayload.has(m.type) ? {} : m.data };
      if (d.wire.dropped !== undefined && dropped > 0) json[d.wire.dropped] = dropped;
      return json;
    };
    const toProto = (json: Json): ProtoMessage => codec.toMessage(output, json);
    // Responses in binary form: what a resumable stream keeps (as a latin1 string, byte for
    // byte), and what a binary call is sent, encoded once (protobuf-es's own toBinary is the
    // fallback for a type the compiled encoder does not cover).
    const toBytes = binaryEncoder(output);
    const wrap = preEncoder(output);
    // One instance serves every heartbeat: Connect only serializes what it is given.
    const heartbeat = toProto({ seq: 0, [d.wire.heartbeat]: {} });

    const errorFor = (error: unknown): StoredError => ({ $error: errorData(error, d.errors.codes, (e) => report(e, d.name)) });
    const raise = (e: StoredError): never => {
      throw toConnectError(e.$error.code, e.$error.message, e.$error.retryable);
    };

    const start = (
      ctx: ConnectContext,
      args: { params: unknown; request: unknown; resumeFrom: number | undefined; messages: AsyncIterable<Message>; principal: unknown },
      inject?: Injector,
      stats?: InstanceStats,
    ) => {
      const controller = new AbortController();
      const stop = () => controller.abort();
      if (ctx.signal.aborted) stop();
      else ctx.signal.addEventListener('abort', stop, { once: true });
      running.add(controller);
      const handled = startHandler(shape, handler, {
        ...args,
        signal: controller.signal,
        headers: ctx.requestHeader,
      });
      const tracked = stats ? control!.track(handled, stats) : handled;
      const source = inject ? inject.wrap(tracked) : tracked;
      const done = () => {
        inject?.close();
        ctx.signal.removeEventListener('abort', stop);
        running.delete(controller);
      };
      return { controller, source, done };
    };

    /**
     * Server-streaming and bidirectional: a stream of responses. One async generator from the
     * handler's batch to Connect, which the rpc returns as it is: every generator layer (and
     * `yield*`) costs a promise and an iterator result per message. `begin` admits the caller
     * and reads the open message, inside the generator so its errors end the call with a status.
     */
    async function* serve(ctx: ConnectContext, begin: () => Promise<Begun>): AsyncGenerator<ProtoMessage> {
      const { open, messages, who, inject } = await begin();
      if (closed) throw new ConnectError('the server is shutting down', Code.Unavailable);
      // A JSON call (application/connect+json, grpc+json, grpc-web+json) is sent messages for Connect to encode.
      const preEncode = ctx.values.get(PRE_ENCODED) && !/json/i.test(ctx.requestHeader.get('content-type') ?? '');
      let instance: StreamInstance;
      let replay: readonly string[] = [];
      if (open.token !== undefined) {
        // Bound to the principal: another one's token is refused before anything of it is sent.
        const found = lookupResume(registry, open.token, d.name, who.id);
        if (found.kind === 'expired') return raise({ $error: { code: 'RESUME_EXPIRED', message: found.message, retryable: false } });
        if (found.kind === 'forbidden') throw toConnectError('PERMISSION_DENIED', found.message, false);
        instance = found.instance;
        if (found.kind === 'resume') replay = found.missed;
      } else {
        // Counted before the instance exists: a principal at its limit cannot churn the registry.
        if (who.id !== undefined && limiter.count(who.id) >= maxStreams) throw tooMany();
        instance = openInstance(registry, d.name, d.resume, who.id);
      }
      // A resume of an instance the principal already holds takes its slot over, never counting twice.
      const release = instance.ended ? () => {} : limiter.acquire(who.id, instance.streamId);
      if (!release) throw tooMany();
      try {
        // The earlier call may be half-open and still running; this one takes over.
        if (open.token !== undefined) instance.live?.abort();
        ctx.responseHeader.set(STREAM_ID_HEADER, instance.streamId);
        for (const line of replay) {
          if (line.startsWith(ERROR_MARK)) return raise(JSON.parse(line.slice(1)) as StoredError);
          const bytes = Buffer.from(line, 'latin1');
          yield preEncode ? wrap(bytes) : fromBinary(output, bytes);
        }
        if (instance.ended) return;

        const stats = control?.stats(instance.streamId, d.name);
        const run = start(
          ctx,
          { params: open.params, request: open.request, resumeFrom: open.token !== undefined ? instance.replay.lastSeq : undefined, messages, principal: who.principal },
          inject,
          stats,
        );
        instance.live = run.controller;
        // Responses the pump encoded (`staged`) and wrote (`ready`), which Connect has not taken yet:
        // at most one batch (the sink says full, and is drained only once Connect has taken the
        // whole batch). The pump's frames are placeholders: the messages go to Connect as they
        // are, with no text in between.
        let staged: ProtoMessage[] = [];
        let ready: ProtoMessage[] = [];
        const unsent = stats && unsentCounter(stats, () => ready.length);
        let wake: (() => void) | undefined;
        let drained: (() => void) | undefined;
        const poke = () => {
          const w = wake;
          wake = undefined;
          w?.();
        };
        // Bytes only for a stream that can be resumed; the others keep no frames, only the count.
        const keep = d.resume !== undefined;
        const frame = (m: Message, dropped: number) => {
          const proto = toProto(response(check(m, false), instance.replay.lastSeq + 1, dropped));
          if (!keep && !preEncode) {
            instance.replay.append('');
            staged.push(proto);
            return '';
          }
          const bytes = toBytes(proto);
          instance.replay.append(keep ? bytes.toString('latin1') : '');
          staged.push(preEncode ? wrap(bytes) : proto);
          return '';
        };
        // The pump writes every frame it encoded since its last write, so a write takes all of `staged`.
        const take = () => {
          if (ready.length === 0) {
            // Usually Connect has taken the previous batch: swap the arrays rather than copy.
            const empty = ready;
            ready = staged;
            staged = empty;
          } else {
            for (const m of staged) ready.push(m);
            staged.length = 0;
          }
          registry.touch(instance);
          poke();
          return false;
        };
        let end: PumpEnd | undefined;
        const pumped = pump(
          run.source,
          {
            write: take,
            writeFrames: take,
            drained: () => new Promise<void>((r) => (ready.length === 0 || end ? r() : (drained = r))),
          },
          {
            // Credit over gRPC is HTTP/2's own: the stream window is the client's grant.
            backpressure: { ...d.backpressure, kind: d.backpressure.kind === 'credit' ? 'pull' : d.backpressure.kind },
            signal: run.controller.signal,
            encode: frame,
            onError: (e) => report(e, d.name),
            ...(unsent ? { stats: unsent.pump } : {}),
          },
        ).then((e) => {
          end = e;
          drained?.();
          poke();
        });

        // A heartbeat once the call has been quiet for a whole interval: one rolling timer, not one per wait.
        let beatDue = false;
        const quiet = quietTimer(d.heartbeatMs, () => {
          beatDue = true;
          poke();
        });
        try {
          for (;;) {
            if (ready.length > 0) {
              const batch = ready.splice(0);
              unsent?.sending(batch.length);
              for (const m of batch) {
                yield m;
                unsent?.sending(-1);
              }
              // Only now may the pump pull again: a batch Connect is still taking counts against `buffer`.
              const r = drained;
              drained = undefined;
              r?.();
              // Messages went out: a beat that fell due while Connect waited on flow control is moot.
              quiet.touch();
              beatDue = false;
              continue;
            }
            if (end) break;
            if (beatDue) {
              beatDue = false;
              yield heartbeat;
              continue;
            }
            await new Promise<void>((resolve) => (wake = resolve));
          }
          await pumped;
          const e = end!;
          if (e.kind === 'aborted') {
            if (ctx.signal.aborted) return;
            throw new ConnectError('the call was taken over by a resumed call, or the server closed', Code.Aborted);
          }
          let proto: ProtoMessage | undefined;
          let bytes: Buffer | undefined;
          let failed: StoredError | undefined;
          try {
            if (e.kind === 'error') throw e.error;
            proto = toProto(response(check(e.value ?? { type: d.terminal, data: null }, true), instance.replay.lastSeq + 1, e.dropped));
            bytes = toBytes(proto);
          } catch (error) {
            failed = errorFor(error);
          }
          // The end is kept whatever the stream's retention, so a resume ends the same way.
          instance.replay.append(bytes ? bytes.toString('latin1') : ERROR_MARK + JSON.stringify(failed));
          instance.ended = true;
          if (!bytes) return raise(failed!);
          yield preEncode ? wrap(bytes) : proto!;
        } finally {
          quiet.stop();
          // Connect calls return() when the client cancels: the pump must stop pulling the handler.
          run.controller.abort();
          run.done();
          if (instance.live === run.controller) instance.live = undefined;
          registry.touch(instance);
        }
      } finally {
        release();
      }
    }

    /** Client-streaming: one response, the terminal message. */
    async function collect(ctx: ConnectContext, open: ReturnType<typeof opening>, messages: AsyncIterable<Message>, who: Admitted): Promise<ProtoMessage> {
      if (closed) throw new ConnectError('the server is shutting down', Code.Unavailable);
      const streamId = newStreamId();
      const release = limiter.acquire(who.id, streamId);
      if (!release) throw tooMany();
      ctx.responseHeader.set(STREAM_ID_HEADER, streamId);
      const run = start(ctx, { params: open.params, request: open.request, resumeFrom: undefined, messages, principal: who.principal });
      try {
        let r: IteratorResult<Message, Message | void>;
        try {
          r = await run.source.next();
          if (!r.done) throw new ContractViolation(d.name, 'a client-to-server handler yields nothing: it returns the terminal message');
          return toProto(response(check(r.value ?? { type: d.terminal, data: null }, true), 1, 0));
        } catch (error) {
          if (run.controller.signal.aborted && !(error instanceof StreamError)) throw new ConnectError('cancelled', Code.Canceled);
          return raise(errorFor(error));
        }
      } finally {
        release();
        run.controller.abort();
        run.done();
        void Promise.resolve()
          .then(() => run.source.return?.())
          .catch((e: unknown) => report(e, d.name));
      }
    }

    const fromOpen = (req: ProtoMessage) => opening(decode(openDesc, req, true));
    const impl = (m: DescMethod) => {
      switch (m.methodKind) {
        case 'server_streaming':
          return (req: ProtoMessage, ctx: ConnectContext) =>
            serve(ctx, async () => {
              const who = await admit(ctx, tokenOf(req));
              return { open: fromOpen(req), messages: emptyMessages(), who };
            });
        case 'bidi_streaming':
          return (reqs: AsyncIterable<ProtoMessage>, ctx: ConnectContext) =>
            serve(ctx, async () => {
              // Before the first message is read: an unknown caller makes the server parse nothing.
              // The hook sees no resumeFrom here (it is in that message); the owner check still applies.
              const who = await admit(ctx, undefined);
              const it = reqs[Symbol.asyncIterator]();
              const open = await firstOpen(it);
              const inject = d.errors.mode === 'in-band' && d.errors.message !== undefined ? createInjector(d.backpressure.buffer) : undefined;
              return { open, messages: clientMessages(it, inject), who, inject };
            });
        case 'client_streaming':
          return async (reqs: AsyncIterable<ProtoMessage>, ctx: ConnectContext) => {
            const who = await admit(ctx, undefined);
            const it = reqs[Symbol.asyncIterator]();
            return collect(ctx, await firstOpen(it), clientMessages(it), who);
          };
        default:
          throw new Error(`internal: rpc ${m.name} is unary`);
      }
    };
    return { method, impl: impl(method) };
  };

  const bound = routes.map(([d, h]) => bind(d, h));
  const register = (router: ConnectRouter) => {
    for (const b of bound) router.rpc(b.method, b.impl as never);
  };
  const adapter = connectNodeAdapter({
    routes: register,
    contextValues: (req) => createContextValues().set(REMOTE_ADDRESS, req.socket?.remoteAddress).set(PRE_ENCODED, true),
  });
  const served = options.cors ? withCors(adapter, options.cors) : adapter;
  return {
    routes: register,
    node: control ? withControl(served, control) : served,
    close() {
      closed = true;
      for (const c of running) c.abort();
      running.clear();
      registry.clear();
    },
  };
}

type NodeHandler = ReturnType<typeof connectNodeAdapter>;

/** What a browser script on an allowed origin may see of a response: Connect's and ours. */
const EXPOSED = [...connectCors.exposedHeaders, STREAM_ID_HEADER, ERROR_CODE_KEY, RETRYABLE_KEY].join(', ');

/**
 * CORS in front of the Connect adapter: preflights are answered here (any request header a
 * client's `headers()` adds is allowed, as asked), other requests get the allow headers and go on.
 */
function withCors(next: NodeHandler, cors: NonNullable<RouterOptions['cors']>): NodeHandler {
  const anyOrigin = cors.origin === '*' && !cors.credentials;
  return ((req, res) => {
    const origin = req.headers.origin;
    const allowed = typeof origin === 'string' && (cors.origin === '*' || cors.origin.includes(origin));
    if (!anyOrigin) res.setHeader('vary', 'Origin');
    if (allowed) {
      res.setHeader('access-control-allow-origin', anyOrigin ? '*' : origin);
      if (cors.credentials) res.setHeader('access-control-allow-credentials', 'true');
    }
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
      if (allowed) {
        const asked = req.headers['access-control-request-headers'];
        res.setHeader('access-control-allow-methods', connectCors.allowedMethods.join(', '));
        res.setHeader('access-control-allow-headers', [...connectCors.allowedHeaders, ...(typeof asked === 'string' ? [asked] : [])].join(', '));
        res.setHeader('access-control-max-age', '7200');
      }
      res.writeHead(204);
      res.end();
      return;
    }
    if (allowed) res.setHeader('access-control-expose-headers', EXPOSED);
    next(req, res);
  }) as NodeHandler;
}

async function* emptyMessages(): AsyncGenerator<Message, void, void> {}

/**
 * The control endpoint's count of what one call holds that Connect has not taken: the pump's
 * own queue, the batch waiting for the generator (`ready()`), and the part of the batch being
 * handed to Connect one message at a time.
 */
function unsentCounter(stats: InstanceStats, ready: () => number) {
  let sending = 0;
  const publish = () => held(stats, pump.queued + ready() + sending);
  const pump = pumpStats(stats, publish);
  return {
    pump,
    sending(n: number) {
      sending += n;
      publish();
    },
  };
}

/** The control endpoint's plain GETs, answered before Connect sees the request. */
function withControl(next: NodeHandler, control: Control): NodeHandler {
  return ((req, res) => {
    if (req.method === 'GET' && req.url?.startsWith(CONTROL_PATH)) {
      const told = control.answer(new URL(req.url, 'http://localhost').pathname);
      if (told) {
        res.writeHead(told.status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(JSON.stringify(told.body));
        return;
      }
    }
    next(req, res);
  }) as NodeHandler;
}


/**
 * One cleartext port for every Connect protocol: HTTP/1.1 (Connect, gRPC-web: what browsers
 * and curl use) and h2c (gRPC). Node's `http2.createServer({ allowHTTP1: true })` falls back
 * to HTTP/1.1 only over TLS (ALPN), so the first bytes of each connection pick the server:
 * the HTTP/2 preface (`PRI * HTTP/2.0`) goes to HTTP/2, anything else to HTTP/1.1. Both
 * servers read what was peeked. For TLS, use `http2.createSecureServer({ allowHTTP1: true }, handler)`.
 */
export function createH2cServer(handler: GrpcRouter['node']): Server {
  const h1 = createHttp1Server(handler as Parameters<typeof createHttp1Server>[1]);
  const h2 = createHttp2Server(handler as Parameters<typeof createHttp2Server>[1]);
  const server = createNetServer((socket) => {
    socket.once('data', (head: Buffer) => {
      socket.pause();
      socket.unshift(head);
      (head.toString('latin1', 0, 3) === 'PRI' ? h2 : h1).emit('connection', socket);
      process.nextTick(() => socket.resume());
    });
    socket.on('error', () => socket.destroy());
  });
  // close() stops accepting, then ends idle connections so it can finish: HTTP/2 sessions get
  // GOAWAY once their calls are done, idle HTTP/1.1 keep-alive sockets are closed.
  const sessions = new Set<import('node:http2').ServerHttp2Session>();
  h2.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  const close = server.close.bind(server);
  server.close = (cb?: (err?: Error) => void) => {
    close(cb);
    for (const s of sessions) s.close();
    h1.closeIdleConnections();
    return server;
  };
  return server;
}
