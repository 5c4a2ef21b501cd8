// The WebSocket side of streams: upgrades, the open frame, credits both ways, client messages,
// close codes, heartbeats and resume, on npm `ws` in noServer mode. One connection is one stream
// call. The generated `server.ts` describes each stream with a WebSocketDescriptor and calls
// createWebSocketRouter; the wire protocol is docs/websocket.md. Numbering, resume, the pump and
// the handler checks are the HTTP transports' own (frames.ts, instance-registry.ts, stream-pump.ts).

import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import {
  checkMessage,
  compilePath,
  decodeParams,
  errorData,
  frameId,
  frameJson,
  issueText,
  startHandler,
  type BaseHandlerContext,
  type CommonRouterOptions,
  type Message,
  type PathMatcher,
  type StreamShape,
} from './frames.js';
import {
  authenticate,
  checkAuthSetup,
  createStreamLimiter,
  DEFAULT_MAX_STREAMS_PER_PRINCIPAL,
  parseCookies,
  type AuthMode,
  type AuthOptions,
} from './auth.js';
import { createControl, createHeldCounter } from './control.js';
import { createInjector } from './injector.js';
import { createInstanceRegistry, lookupResume, openInstance, type StreamInstance } from './instance-registry.js';
import { pump, quietTimer, type PumpEnd, type PumpSink } from './stream-pump.js';
import type { Issue } from './validation.js';

export { StreamError } from './errors.js';
export type { AuthMode, AuthRequest, Authenticate } from './auth.js';
export { ContractViolation, type Message } from './frames.js';

/** The subprotocol a client must offer; an incompatible protocol gets a new name. */
export const SUBPROTOCOL = 'streamspec.v1';

export type Direction = 'server-to-client' | 'client-to-server' | 'bidirectional';

export interface WebSocketDescriptor extends StreamShape {
  readonly direction: Direction;
  /** Checks a client message `{ type, data }`; absent when the stream has none. */
  readonly validateClientMessage?: (m: unknown) => Issue[];
  readonly backpressure: {
    readonly kind: 'pull' | 'block' | 'credit' | 'drop-oldest' | 'drop-newest' | 'sample';
    readonly buffer: number;
    readonly intervalMs?: number;
    /** The open frame's default grant of server frames (the generator's `initialCredits`). */
    readonly credits: number;
  };
  /** A peer that answers no ping for this long is cut off (abandoned consumer). */
  readonly heartbeatTimeoutMs: number;
  /** The contract's `auth`; absent: required when the router has an `authenticate` hook. */
  readonly auth?: AuthMode;
}

/** `headers`: the upgrade request's, with the open frame's `headers` merged over them. */
export interface WebSocketContext extends BaseHandlerContext {
  /** Validated client messages `{ type, data }`, in order; ends when the client sends `$end`. */
  readonly messages: AsyncIterable<any>;
}

export type WebSocketHandler = (ctx: WebSocketContext) => AsyncIterator<{ type: string; data: unknown }, { type: string; data: unknown } | void>;

/**
 * `cors.origin` here is the Origin allow-list of the upgrade; default: only the server's own
 * (Origin host = Host). `authenticate` runs on the open frame, and again on every resume;
 * `principalId` and `maxStreamsPerPrincipal` are documented in auth.ts.
 */
export interface WebSocketRouterOptions<P = unknown> extends AuthOptions<P>, CommonRouterOptions {
  /** Largest frame a client may send, in bytes (default 1 MiB); larger: close 1009. */
  readonly maxMessageBytes?: number;
  /** How long the server waits for the open frame (default 10 s); then close 4408. */
  readonly openTimeoutMs?: number;
}

export interface WebSocketRouter {
  /**
   * Handles every `upgrade` of `server` (a path without a stream is answered 404). With
   * `conformanceControl`, also answers the control endpoint's plain GETs before the server's own
   * `request` listeners (those attached by now), which get every other request as before.
   */
  upgrade(server: Server): void;
  /** For a server that routes upgrades itself: call with the `upgrade` event's arguments. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /**
   * For a server that routes plain requests itself: answers a request the router serves (the
   * conformance control endpoint, when on) and returns true; false for any other request.
   */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean;
  /** Closes every connection (1001), aborts running handlers and clears timers; later upgrades get 503. */
  close(): void;
}

export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  protocol: 1002,
  binary: 1003,
  invalidData: 1007,
  policy: 1008,
  tooBig: 1009,
  internal: 1011,
  invalidRequest: 4400,
  unauthenticated: 4401,
  permissionDenied: 4403,
  openTimeout: 4408,
  resumeExpired: 4410,
  resourceExhausted: 4429,
} as const;

/** Frames a client may send while its open frame is being authenticated; more is not a client of ours. */
const MAX_EARLY_FRAMES = 64;

/** The close code an out-of-band error code travels as: `4000 + index` of a contract code. */
export function closeCodeFor(code: string, codes: readonly string[]): number {
  if (code === 'INVALID_REQUEST') return CLOSE.invalidRequest;
  if (code === 'RESUME_EXPIRED') return CLOSE.resumeExpired;
  const i = codes.indexOf(code);
  return code === 'INTERNAL' || i < 0 || i >= 400 ? CLOSE.internal : 4000 + i;
}

/** `text` cut to the 123 bytes of UTF-8 a close reason may hold, never inside a character. */
export function closeReason(text: string): string {
  if (Buffer.byteLength(text) <= 123) return text;
  let out = '';
  let bytes = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > 123) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/**
 * Unmasked, final text frames (RFC 6455 §5.2), one after another in one buffer: what `ws` would
 * write for each with `send`, without compression, which this server never negotiates. Written
 * straight to the socket; `ws` queues nothing of its own then (no compression), so frames keep
 * their order with its pings and close frame.
 */
export function textFrames(texts: readonly string[]): Buffer {
  let total = 0;
  const lengths = texts.map((t) => {
    const n = Buffer.byteLength(t);
    total += n + (n < 126 ? 2 : n < 65536 ? 4 : 10);
    return n;
  });
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  texts.forEach((t, i) => {
    const n = lengths[i]!;
    out[at++] = 0x81; // FIN, opcode 1 (text)
    if (n < 126) out[at++] = n;
    else if (n < 65536) {
      out[at++] = 126;
      at = out.writeUInt16BE(n, at);
    } else {
      out[at++] = 127;
      at = out.writeBigUInt64BE(BigInt(n), at);
    }
    at += out.write(t, at, 'utf8');
  });
  return out;
}

const DEFAULT_MAX_MESSAGE = 1024 * 1024;
const DEFAULT_OPEN_TIMEOUT = 10_000;
const HEARTBEAT_FRAME = '{"type":"$heartbeat"}';

interface Route extends PathMatcher {
  readonly descriptor: WebSocketDescriptor;
  readonly handler: WebSocketHandler;
}

/** A JSON object, or undefined. */
const asObject = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** Answers an upgrade with a plain HTTP status and closes the socket; no WebSocket opens. */
function refuse(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ code, message });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
      `Cache-Control: no-store\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

export function createWebSocketRouter<P = unknown>(
  descriptors: readonly WebSocketDescriptor[],
  handlers: Readonly<Record<string, WebSocketHandler>>,
  options: WebSocketRouterOptions<P> = {},
): WebSocketRouter {
  checkAuthSetup(descriptors, options as AuthOptions<unknown>);
  const routes: Route[] = descriptors.map((d) => {
    const handler = handlers[d.name];
    if (typeof handler !== 'function') throw new TypeError(`no handler for stream ${JSON.stringify(d.name)}`);
    return { descriptor: d, handler, ...compilePath(d.path) };
  });
  const onError = options.onError ?? ((error: unknown, stream: string) => console.error(`streamspec: stream ${stream}:`, error));
  const report = (error: unknown, stream: string) => {
    try {
      onError(error, stream);
    } catch {
      // A failing error reporter must not take the server down either.
    }
  };
  const validateOutput = options.validateOutput ?? true;
  const openTimeoutMs = options.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT;
  const registry = createInstanceRegistry({ maxInstances: options.maxInstances ?? 10000, now: options.now ?? Date.now });
  const maxStreams = options.maxStreamsPerPrincipal ?? DEFAULT_MAX_STREAMS_PER_PRINCIPAL;
  const limiter = createStreamLimiter(maxStreams);
  // noServer: the router decides which upgrades become sockets; no compression, so frames go out
  // as written and `bufferedAmount` is the socket's own.
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE,
    perMessageDeflate: false,
    clientTracking: false,
    handleProtocols: (offered) => (offered.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });
  const sockets = new Set<WebSocket>();
  const running = new Set<AbortController>();
  const attached = new Map<Server, (req: IncomingMessage, socket: Duplex, head: Buffer) => void>();
  const control = options.conformanceControl ? createControl() : undefined;
  /** Servers whose `request` listeners were put behind the control endpoint, with the originals. */
  const fronted = new Map<Server, { readonly front: (req: IncomingMessage, res: ServerResponse) => void; readonly others: Function[] }>();
  let closed = false;
  /**
   * The close an out-of-band error (or a server failure) ended an instance with. It has no frame
   * to replay, so a resume after a lost close frame is answered with the same close, not 1000.
   */
  const failures = new WeakMap<StreamInstance, { readonly code: number; readonly reason: string }>();
  const fail = (instance: StreamInstance, code: number, reason: string, hangUp: (code: number, reason: string) => void) => {
    instance.ended = true;
    failures.set(instance, { code, reason });
    hangUp(code, reason);
  };
  /** A resume of an instance that ended: 1000, or the close its error was. */
  const hangUpEnded = (instance: StreamInstance, hangUp: (code: number, reason: string) => void) => {
    const f = failures.get(instance);
    return f ? hangUp(f.code, f.reason) : hangUp(CLOSE.normal, 'the stream has ended');
  };

  function handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
    if (!control || req.method !== 'GET') return false;
    let told: ReturnType<typeof control.answer>;
    try {
      told = control.answer(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      return false;
    }
    if (!told) return false;
    res.writeHead(told.status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(told.body));
    return true;
  }

  const originAllowed = (req: IncomingMessage): boolean => {
    const origin = req.headers.origin;
    // No Origin: not a browser, so no cross-site page is behind it.
    if (origin === undefined) return true;
    const allow = options.cors?.origin;
    if (allow === '*') return true;
    if (allow) return allow.includes(origin);
    try {
      return new URL(origin).host === req.headers.host;
    } catch {
      return false;
    }
  };

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Errors on a socket nobody reads yet (a reset during the handshake) must not crash the process.
    socket.on('error', () => {});
    if (closed) return refuse(socket, 503, 'UNAVAILABLE', 'the server is shutting down');
    let pathname: string;
    try {
      pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    } catch {
      return refuse(socket, 404, 'NOT_FOUND', 'no stream here');
    }
    let route: Route | undefined;
    let m: RegExpExecArray | null = null;
    for (const r of routes) {
      m = r.pattern.exec(pathname);
      if (m) {
        route = r;
        break;
      }
    }
    if (!route || !m) return refuse(socket, 404, 'NOT_FOUND', `no stream at ${pathname}`);
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    if (!offered.includes(SUBPROTOCOL)) return refuse(socket, 400, 'UNSUPPORTED_PROTOCOL', `offer the WebSocket subprotocol ${SUBPROTOCOL}`);
    if (!originAllowed(req)) return refuse(socket, 403, 'FORBIDDEN', `origin ${req.headers.origin} is not allowed`);
    const r = route;
    const match = m;
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (closed) return ws.close(CLOSE.goingAway, 'the server is shutting down');
      connection(ws, socket, req, r, match);
    });
  }

  /** One connection: waits for the open frame, then runs the stream; frames from the client go through here. */
  function connection(ws: WebSocket, socket: Duplex, req: IncomingMessage, route: Route, match: RegExpExecArray): void {
    const d = route.descriptor;
    sockets.add(ws);
    const controller = new AbortController();
    let stream: ReturnType<typeof startStream> | undefined;
    let done = false;
    /** Frames that came while the open frame was being authenticated: handled once the stream runs. */
    let early: Record<string, unknown>[] | undefined;
    /** Gives back the principal's stream slot; set once the stream holds one. */
    let release = () => {};
    const hangUp = (code: number, reason: string) => {
      if (done) return;
      done = true;
      ws.close(code, closeReason(reason));
      controller.abort();
    };

    const openTimer = setTimeout(() => hangUp(CLOSE.openTimeout, 'no open frame in time'), openTimeoutMs);
    openTimer.unref?.();
    // Pings at the heartbeat interval; a peer that answers none for the whole timeout is gone
    // (half-open, frozen tab). Its own timer, restarted by each pong, so it fires at the timeout.
    const pinger = setInterval(() => ws.ping(), Math.max(1, d.heartbeatMs));
    pinger.unref?.();
    const deadline = setTimeout(() => ws.terminate(), Math.max(1, d.heartbeatTimeoutMs));
    deadline.unref?.();
    ws.on('pong', () => deadline.refresh());

    ws.on('error', () => {
      // `ws` has already chosen the close code (1009 over maxPayload, 1007 bad UTF-8, 1002); the stream ends on 'close'.
    });
    ws.on('close', () => {
      done = true;
      sockets.delete(ws);
      clearTimeout(openTimer);
      clearInterval(pinger);
      clearTimeout(deadline);
      controller.abort();
      release();
      stream?.gone();
    });

    ws.on('message', (data, isBinary) => {
      if (done) return;
      if (isBinary) return hangUp(CLOSE.binary, 'binary frames are not part of the protocol');
      let frame: Record<string, unknown> | undefined;
      try {
        frame = asObject(JSON.parse((data as Buffer).toString('utf8')));
      } catch {
        return hangUp(CLOSE.invalidData, 'a frame that is not JSON');
      }
      if (!frame || typeof frame.type !== 'string') return hangUp(CLOSE.protocol, 'a frame must be a JSON object with a string type');
      if (early) {
        if (early.length >= MAX_EARLY_FRAMES) return hangUp(CLOSE.policy, 'too many frames before the stream opened');
        return void early.push(frame);
      }
      if (!stream) {
        if (frame.type !== '$open') return hangUp(CLOSE.protocol, 'the first frame must be $open');
        clearTimeout(openTimer);
        early = [];
        open(frame).then(
          () => {
            const queued = early ?? [];
            early = undefined;
            for (const f of queued) if (!done && stream) dispatch(f);
          },
          (error: unknown) => {
            // The hook threw something other than a rejection: a server fault, as on HTTP.
            early = undefined;
            report(error, d.name);
            // No `CODE:` in the reason: clients retry it (as a 500 over HTTP), so an auth
            // backend's blip does not end a stream for good.
            hangUp(CLOSE.internal, 'internal error');
          },
        );
        return;
      }
      dispatch(frame);
    });

    /** A frame after the open frame, once the stream runs. */
    function dispatch(frame: Record<string, unknown>): void {
      const stream_ = stream!;
      switch (frame.type) {
        case '$credit':
          if (!Number.isSafeInteger(frame.n) || (frame.n as number) < 1) return hangUp(CLOSE.protocol, '$credit needs a positive integer n');
          return stream_.grant(frame.n as number);
        case '$end':
          return stream_.inbox.end();
        case '$open':
          return hangUp(CLOSE.protocol, 'a second $open');
        default:
          if ((frame.type as string).startsWith('$')) return hangUp(CLOSE.protocol, `unknown frame type ${frame.type as string}`);
          return stream_.receive(frame);
      }
    }

    async function open(frame: Record<string, unknown>): Promise<void> {
      const headersIn = frame.headers === undefined ? {} : asObject(frame.headers);
      if (
        !headersIn ||
        !Object.values(headersIn).every((v) => typeof v === 'string') ||
        (frame.resume !== undefined && typeof frame.resume !== 'string') ||
        (frame.credits !== undefined && !isCount(frame.credits))
      )
        return hangUp(CLOSE.protocol, '$open: resume must be a string, credits a whole number, headers strings');

      // Browsers cannot set headers on an upgrade, so credentials come in the open frame's `headers`.
      const headers = new Headers();
      for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
        try {
          headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
        } catch {
          // Node accepted a header the fetch Headers class rejects; nothing here needs it.
        }
      }
      for (const [k, v] of Object.entries(headersIn)) {
        try {
          headers.set(k, v as string);
        } catch {
          return hangUp(CLOSE.protocol, `$open: ${JSON.stringify(k)} is not a header name`);
        }
      }
      const resumeId = frame.resume as string | undefined;

      // Before the request is validated: an unknown caller learns nothing more (as on HTTP).
      const who = await authenticate(d.auth, options, {
        stream: d.name,
        headers,
        cookies: parseCookies(headers.get('cookie')),
        query: new URL(req.url ?? '/', 'http://localhost').searchParams,
        remoteAddress: req.socket.remoteAddress,
        resumeFrom: resumeId,
      });
      // The peer left (or the router closed) while the hook ran.
      if (done) return;
      if (who.kind === 'denied')
        return hangUp(who.code === 'UNAUTHENTICATED' ? CLOSE.unauthenticated : CLOSE.permissionDenied, `${who.code}: ${who.message}`);

      const issues: Issue[] = [];
      const params = decodeParams(route, match, issues);
      if (issues.length === 0) issues.push(...d.validateParams(params));
      const request = frame.request;
      if (d.validateRequest) issues.push(...d.validateRequest(request));
      if (issues.length > 0) {
        const message = issueText(issues);
        ws.send(JSON.stringify({ type: '$error', data: { code: 'INVALID_REQUEST', message, retryable: false, issues } }));
        return hangUp(CLOSE.invalidRequest, `INVALID_REQUEST: ${message}`);
      }

      const tooMany = () =>
        hangUp(CLOSE.resourceExhausted, `RESOURCE_EXHAUSTED: at most ${maxStreams} streams may be open at once for one principal`);
      // Only now, with nothing left to refuse, is an instance looked up (and a live one taken over) or registered.
      let instance: StreamInstance;
      let replay: readonly string[] = [];
      const resumed = resumeId !== undefined;
      if (resumeId !== undefined) {
        const found = lookupResume(registry, resumeId, d.name, who.id);
        if (found.kind === 'expired') return hangUp(CLOSE.resumeExpired, `RESUME_EXPIRED: ${found.message}`);
        // Whatever the instance's state: another principal learns nothing of it, not even that it ended.
        if (found.kind === 'forbidden') return hangUp(CLOSE.permissionDenied, `PERMISSION_DENIED: ${found.message}`);
        if (found.kind === 'ended') return hangUpEnded(found.instance, hangUp);
        instance = found.instance;
        replay = found.missed;
      } else {
        // Counted before the instance exists: a principal at its limit cannot churn the registry.
        if (who.id !== undefined && limiter.count(who.id) >= maxStreams) return tooMany();
        instance = openInstance(registry, d.name, d.resume, who.id);
      }
      // A resume of an instance the principal already holds takes its slot over, so it never counts twice.
      const slot = instance.ended ? () => {} : limiter.acquire(who.id, instance.streamId);
      if (!slot) return tooMany();
      release = slot;
      // The earlier connection may be half-open and still running; this one takes over.
      if (resumed) instance.live?.abort();
      const credits = (frame.credits as number | undefined) ?? d.backpressure.credits;
      stream = startStream({
        ws,
        socket,
        route,
        instance,
        replay,
        resumed,
        params,
        request,
        headers,
        principal: who.principal,
        credits,
        controller,
        hangUp,
        release: slot,
      });
    }
  }

  interface StreamStart {
    readonly ws: WebSocket;
    readonly socket: Duplex;
    readonly route: Route;
    readonly instance: StreamInstance;
    readonly replay: readonly string[];
    readonly resumed: boolean;
    readonly params: unknown;
    readonly request: unknown;
    readonly headers: Headers;
    readonly principal: unknown;
    readonly credits: number;
    readonly controller: AbortController;
    readonly hangUp: (code: number, reason: string) => void;
    /** Gives back the principal's stream slot (idempotent). */
    readonly release: () => void;
  }

  /** The running stream of one connection: server frames out under credit, client messages in. */
  function startStream(s: StreamStart) {
    const { ws, socket, route, instance, controller, hangUp } = s;
    const d = route.descriptor;
    const signal = controller.signal;
    running.add(controller);
    instance.live = controller;
    const takesMessages = d.direction !== 'server-to-client' && d.validateClientMessage !== undefined;

    // Credits the client granted and not yet used; numbered frames only.
    let credits = s.credits;
    const waiters = new Set<() => void>();
    const highWater = (socket as Duplex & { writableHighWaterMark?: number }).writableHighWaterMark ?? 16384;
    const isOpen = () => ws.readyState === WebSocket.OPEN && !signal.aborted;
    const settle = () => {
      if (waiters.size === 0 || (isOpen() && (credits <= 0 || ws.bufferedAmount >= highWater))) return;
      for (const w of waiters) w();
      waiters.clear();
    };
    socket.on('drain', settle);
    signal.addEventListener('abort', settle, { once: true });

    const heartbeat = quietTimer(d.heartbeatMs, () => ws.send(HEARTBEAT_FRAME));
    const stats = control?.stats(instance.streamId, d.name);
    const held = stats && createHeldCounter(stats, () => new Promise<void>((r) => socket.once('drain', r)));
    const sink: PumpSink & { writeFrames(frames: readonly string[]): boolean } = {
      writeFrames(frames) {
        if (!isOpen()) return false;
        credits -= frames.length;
        heartbeat.touch();
        registry.touch(instance);
        // Several frames ready together: one buffer, one socket write, each still its own
        // WebSocket message (ws.send per frame costs two buffers and a write each).
        const accepted = socket.write(textFrames(frames));
        // Counted here, not by the pump: frames handed over while the socket was full.
        held?.wrote(frames.length, accepted);
        return ws.bufferedAmount < highWater;
      },
      write: (chunk) => sink.writeFrames([chunk]),
      room: () => credits,
      drained: () =>
        new Promise<void>((resolve) => {
          waiters.add(resolve);
          settle();
        }),
    };
    /** Waits until one more numbered frame may go out; false if the connection went away meanwhile. */
    const creditFor = async (): Promise<boolean> => {
      while (isOpen() && credits <= 0) await sink.drained();
      return isOpen();
    };

    const inbox = createInbox(ws, d.backpressure.buffer, signal, takesMessages);
    const injected = d.errors.mode === 'in-band' && takesMessages ? createInjector() : undefined;
    let clientSeq = 0;

    void (async () => {
      try {
        // Frames the client missed go first, under its credit like any other.
        for (let i = 0; i < s.replay.length; ) {
          if (!(await creditFor())) return;
          const n = Math.min(credits, s.replay.length - i);
          sink.writeFrames(s.replay.slice(i, i + n));
          i += n;
        }
        if (instance.ended) return hangUpEnded(instance, hangUp);
        inbox.start();
        await run();
      } catch (error) {
        report(error, d.name);
        fail(instance, CLOSE.internal, 'INTERNAL: internal error', hangUp);
      } finally {
        heartbeat.stop();
        socket.off('drain', settle);
        s.release();
        running.delete(controller);
        if (instance.live === controller) instance.live = undefined;
        registry.touch(instance);
        // Taken over, or the router closed: this socket has no stream any more.
        if (ws.readyState === WebSocket.OPEN) hangUp(CLOSE.goingAway, 'the stream moved to another connection');
      }
    })();

    const frame = (m: Message, dropped: number): string => {
      const seq = instance.replay.lastSeq + 1;
      const text = frameJson({ seq, id: frameId(instance.streamId, seq), type: m.type, data: m.data, dropped });
      instance.replay.append(text);
      return text;
    };

    async function run(): Promise<void> {
      const handlerSource = startHandler(d, route.handler, {
        params: s.params,
        request: s.request,
        signal,
        resumeFrom: s.resumed ? instance.replay.lastSeq : undefined,
        headers: s.headers,
        messages: inbox.iterable,
        principal: s.principal,
      });
      const tracked = stats ? control!.track(handlerSource, stats) : handlerSource;
      const source = injected ? injected.wrap(tracked) : tracked;
      const end: PumpEnd = await pump(source, sink, {
        backpressure: d.backpressure,
        signal,
        encode: (m, dropped) => frame(checkMessage(d, m, false, validateOutput), dropped),
        onError: (e) => report(e, d.name),
        ...(held ? { stats: held.pump } : {}),
      });
      if (end.kind === 'aborted') return;
      let last: Message | undefined;
      let error: unknown = end.kind === 'error' ? end.error : undefined;
      if (end.kind === 'done') {
        try {
          last = checkMessage(d, end.value ?? { type: d.terminal, data: null }, true, validateOutput);
        } catch (e) {
          error = e;
        }
      }
      if (!last) {
        const data = errorData(error, d.errors.codes, (e) => report(e, d.name));
        instance.ended = true;
        // Out-of-band: the close code is the error; no frame, so nothing waits for credit.
        if (d.errors.mode === 'out-of-band') return fail(instance, closeCodeFor(data.code, d.errors.codes), closeReason(`${data.code}: ${data.message}`), hangUp);
        last = { type: '$error', data };
      }
      // Numbered before it waits for credit: a connection lost meanwhile still finds it on resume.
      const text = frame(last, end.dropped);
      instance.ended = true;
      if (!(await creditFor())) return;
      sink.writeFrames([text]);
      hangUp(CLOSE.normal, last.type === '$error' ? 'stream failed' : 'stream ended');
    }

    return {
      inbox,
      grant(n: number) {
        credits = Math.min(Number.MAX_SAFE_INTEGER, credits + n);
        settle();
      },
      /** A client message frame `{ seq, type, data }`. */
      receive(f: Record<string, unknown>) {
        if (f.seq !== clientSeq + 1) return hangUp(CLOSE.protocol, `client message seq ${JSON.stringify(f.seq)}, expected ${clientSeq + 1}`);
        clientSeq++;
        if (inbox.endedByClient) return hangUp(CLOSE.protocol, 'a client message after $end');
        if (!inbox.admit()) return hangUp(CLOSE.policy, 'client messages beyond the server grant');
        const message = { type: f.type as string, data: f.data };
        const issues = d.validateClientMessage!(message);
        if (issues.length === 0) return inbox.push(message);
        const text = `client message ${clientSeq}: ${issueText(issues)}`;
        if (!injected) return hangUp(CLOSE.invalidData, text);
        // Its place in the server's window is freed only once the pump takes the error: a client
        // that grants no credit cannot pile up errors beyond `buffer`.
        injected.push({ type: d.errors.message!, data: { code: 'INVALID_REQUEST', message: text, retryable: false } }, inbox.consumed);
      },
      gone() {
        settle();
      },
    };
  }

  return {
    upgrade(server) {
      if (attached.has(server)) return;
      const listener = (req: IncomingMessage, socket: Duplex, head: Buffer) => handleUpgrade(req, socket, head);
      attached.set(server, listener);
      server.on('upgrade', listener);
      if (control) {
        // An event cannot be taken from the listeners after it, so they go behind one that asks
        // the control endpoint first (engine.io attaches to a node:http server the same way).
        const others = server.listeners('request');
        server.removeAllListeners('request');
        const front = (req: IncomingMessage, res: ServerResponse) => {
          if (!handleRequest(req, res)) for (const l of others) l.call(server, req, res);
        };
        server.on('request', front);
        fronted.set(server, { front, others });
      }
    },
    handleUpgrade,
    handleRequest,
    close() {
      closed = true;
      for (const [server, listener] of attached) server.off('upgrade', listener);
      attached.clear();
      for (const [server, { front, others }] of fronted) {
        server.off('request', front);
        for (const l of others) server.on('request', l as (...args: unknown[]) => void);
      }
      fronted.clear();
      for (const ws of sockets) ws.close(CLOSE.goingAway, 'the server is shutting down');
      // A peer that does not answer the close handshake is cut after a grace, so the server can close.
      const left = [...sockets];
      setTimeout(() => left.forEach((ws) => ws.terminate()), 1000).unref();
      for (const c of running) c.abort();
      running.clear();
      registry.clear();
      wss.close();
    },
  };
}

/**
 * Client messages waiting for the handler, bounded by the server's own grants: the client may
 * send `buffer` messages, and is granted more as the handler takes them (half a window at a time).
 */
function createInbox(ws: WebSocket, buffer: number, signal: AbortSignal, takesMessages: boolean) {
  const window = Math.max(1, buffer);
  const queue: { type: string; data: unknown }[] = [];
  let granted = 0;
  let received = 0;
  let taken = 0;
  let grantedAt = 0;
  let ended = !takesMessages;
  let endedByClient = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  signal.addEventListener('abort', notify, { once: true });
  const grant = (n: number) => {
    granted += n;
    if (ws.readyState === WebSocket.OPEN) ws.send(`{"type":"$credit","n":${n}}`);
  };
  const took = () => {
    taken++;
    if (taken - grantedAt >= Math.ceil(window / 2) && !ended) {
      grant(taken - grantedAt);
      grantedAt = taken;
    }
  };

  return {
    get endedByClient() {
      return endedByClient;
    },
    /** Sends the first grant once the stream runs. */
    start() {
      if (takesMessages) grant(window);
    },
    /** Counts one received message; false when it was beyond the grant. */
    admit: () => ++received <= granted,
    push(m: { type: string; data: unknown }) {
      queue.push(m);
      notify();
    },
    /** A message that never reached the queue (rejected) still frees its place. */
    consumed: took,
    end() {
      ended = endedByClient = true;
      notify();
    },
    iterable: {
      [Symbol.asyncIterator]: () => ({
        async next(): Promise<IteratorResult<{ type: string; data: unknown }, undefined>> {
          for (;;) {
            if (signal.aborted) throw signal.reason;
            if (queue.length > 0) {
              const value = queue.shift()!;
              took();
              return { done: false, value };
            }
            if (ended) return { done: true, value: undefined };
            await new Promise<void>((r) => (wake = r));
          }
        },
        async return(): Promise<IteratorResult<{ type: string; data: unknown }, undefined>> {
          return { done: true, value: undefined };
        },
      }),
    } as AsyncIterable<{ type: string; data: unknown }>,
  };
}

