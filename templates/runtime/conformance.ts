// Conformance checks: does a running server keep its contract? Each check opens the stream over
// the wire with its own strict reader (not the generated client, which forgives what it can) and
// reports a violation in the contract's words: `stream alerts: message 3 has seq 5, expected 4 (gap)`.
// The generated `conformance/*.conformance.test.ts` suites run these checks under vitest.
// HTTP streaming transports (SSE, NDJSON) per docs/http-streaming.md, WebSocket per
// docs/websocket.md, and gRPC per docs/grpc.md (its reader is conformance-grpc.ts, handed in by
// the stream's descriptor). Each transport's reader library (`eventsource-parser`, npm `ws`,
// connect-node) is loaded only when a check of that transport runs, so a project needs only its own.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { CONTROL_PATH } from './control.js';
import type { Issue } from './validation.js';

/** What a suite knows about one stream of the contract (generated into `conformance/streams.ts`). */
export interface ConformanceStream {
  readonly name: string;
  readonly transport: 'sse' | 'ndjson' | 'websocket' | 'grpc';
  /** Literal pieces and `{ param }` pieces of the path (gRPC: empty, the rpc is named by `grpc`). */
  readonly path: readonly (string | { readonly param: string })[];
  /** HTTP transports: how the request travels. WebSocket: `GET` (the upgrade; the request goes in the open frame). gRPC: `POST`. */
  readonly method: 'GET' | 'POST';
  readonly terminal: string;
  /** The generated validators: the message union (`{ type, data }`), params and request. */
  readonly validate: (message: unknown) => Issue[];
  readonly validateParams: (params: unknown) => Issue[];
  readonly validateRequest: (request: unknown) => Issue[];
  /** Whether the stream has a request (a body or query parameters). */
  readonly hasRequest: boolean;
  readonly errors: { readonly mode: 'fail-fast' | 'in-band' | 'out-of-band'; readonly codes: readonly string[] };
  readonly backpressure: { readonly kind: string; readonly buffer: number };
  readonly lossy: boolean;
  readonly resume: boolean;
  readonly heartbeatMs: number;
  /** WebSocket and gRPC: who sends messages; absent on the HTTP transports (server-to-client). */
  readonly direction?: 'server-to-client' | 'client-to-server' | 'bidirectional';
  /** WebSocket only: the open frame's default grant (`backpressure.credits` of a credit stream, else `buffer`). */
  readonly credits?: number;
  /** gRPC only: the reader for this stream's rpc (conformance-grpc.ts). */
  readonly grpc?: GrpcReader;
}

/** How the checks read a gRPC stream: conformance-grpc.ts makes one per rpc. */
export interface GrpcReader {
  record(stream: ConformanceStream, fixture: Fixture, baseUrl: string, options: OpenOptions): Promise<Recording>;
  /**
   * The params and request the server reads after this input went through protobuf (proto3
   * cannot tell an empty string from an absent one, nor send a string in a number field):
   * undefined when protobuf cannot carry it at all.
   */
  roundTrip(input: Fixture): Fixture | undefined;
}

/** The params and request a check opens the stream with. */
export interface Fixture {
  readonly params: Readonly<Record<string, unknown>>;
  readonly request?: unknown;
  /**
   * Streams with client messages (WebSocket, gRPC): the `{ type, data }` messages a check sends
   * after opening (on WebSocket within the server's grants), then ends its side.
   */
  readonly messages?: readonly unknown[];
  /**
   * Credentials and other headers every call of the stream sends (HTTP headers; on WebSocket
   * the open frame's `headers`; on gRPC request metadata): `{ "authorization": "Bearer ..." }`.
   */
  readonly headers?: Readonly<Record<string, string>>;
}

/** The server a suite checks: one already running, or a factory the suite starts and closes. */
export type ConformanceServer =
  | { readonly baseUrl: string }
  | { start(): Promise<{ readonly baseUrl: string; close?(): Promise<void> | void }> };

export interface CheckContext {
  /** `http://127.0.0.1:8080`, no trailing slash needed (WebSocket: `ws://` works too; the checks use both schemes). */
  readonly baseUrl: string;
  /** The longest a check waits for a whole stream (default 30 s). */
  readonly timeoutMs?: number;
}

export type CheckResult = { readonly ok: true } | { readonly skipped: string };

export interface Check {
  /** Stable name, the test's title: `sequence`, `termination`, ... */
  readonly name: string;
  readonly title: string;
  /** Resolves when the server conforms (or the check cannot apply: `skipped` says why); throws a ConformanceViolation when not. */
  run(ctx: CheckContext): Promise<CheckResult>;
}

export class ConformanceViolation extends Error {
  constructor(
    readonly check: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConformanceViolation';
  }
}


/** What the control endpoint says about one stream instance. */
export interface InstanceReport {
  readonly stream: string;
  /** `running`: the handler may still produce; `done`: it returned, threw or was closed. */
  readonly handler: 'running' | 'done';
  /** Values taken from the handler so far. */
  readonly pulled: number;
  /**
   * Messages taken from the handler that the transport has not accepted, now and at most: waiting
   * in the server's queue, or written while the transport asked the server to wait (Node:
   * `writableNeedDrain`). Backpressure keeps this at or below the contract's `buffer`.
   */
  readonly queued: number;
  readonly maxQueued: number;
}

// ---------------------------------------------------------------------------------------------
// Reading a stream, strictly

/** One thing seen on the wire, with when it arrived (ms since the request was sent). */
export type Seen =
  | {
      readonly kind: 'frame';
      readonly at: number;
      readonly id: string;
      readonly streamId: string;
      readonly seq: number;
      readonly type: string;
      readonly data: unknown;
      readonly dropped: number;
    }
  | { readonly kind: 'heartbeat'; readonly at: number }
  /** WebSocket: the server granted `n` more client messages. */
  | { readonly kind: 'credit'; readonly at: number; readonly n: number };

export interface Recording {
  /** HTTP status; WebSocket: 101 once the upgrade succeeded, else the status that refused it. */
  readonly status: number;
  readonly contentType: string;
  /** The JSON body of a non-stream answer (400, 410, ...); WebSocket: the data of an `$error` frame without seq (the open frame refused). */
  readonly body: unknown;
  readonly seen: readonly Seen[];
  /** How the body ended: `end` (closed by the server), `stopped` (we stopped reading), `timeout`. */
  readonly ended: 'end' | 'stopped' | 'timeout';
  /** Framing problems, in order; a recording stops at the first. */
  readonly malformed: string | undefined;
  /** WebSocket: the subprotocol the server accepted. */
  readonly protocol?: string;
  /** WebSocket: how the server closed the connection (absent when we stopped or timed out first). */
  readonly close?: { readonly code: number; readonly reason: string };
  /** gRPC: the status the call ended with (absent when we stopped or timed out first). */
  readonly grpc?: GrpcStatus;
}

/** A gRPC call's final status, with the contract's code from the `streamspec-error-code` metadata. */
export interface GrpcStatus {
  /** 0 is OK. */
  readonly code: number;
  /** `OUT_OF_RANGE`, ... */
  readonly name: string;
  readonly message: string;
  readonly errorCode: string | undefined;
}

export interface OpenOptions {
  readonly resumeFrom?: string;
  /** Stop reading (and close the connection) once this returns true for what was seen so far. */
  readonly until?: (seen: readonly Seen[]) => boolean;
  /** Called with each frame as it arrives; awaited, so a slow callback is a slow consumer. */
  readonly onSeen?: (s: Seen) => Promise<void> | void;
  readonly timeoutMs?: number;
  /** Overrides the fixture: send these params and this request instead. */
  readonly input?: Fixture;
  /** Stop reading (and close the connection) when this aborts. */
  readonly signal?: AbortSignal;
  /** WebSocket: the open frame's grant (default: the stream's `credits`). */
  readonly credits?: number;
  /** WebSocket: false grants nothing after the open frame; default true (the window is topped up as frames are taken, as the generated client does). */
  readonly grant?: boolean;
  /** WebSocket and gRPC: the client messages to send (default: the fixture's). */
  readonly messages?: readonly unknown[];
  /** WebSocket and gRPC: false does not end the client's side after them (`$end`, the request stream's end), so the client stays in the stream; default true. */
  readonly end?: boolean;
  /** WebSocket: how to leave when `until` says stop: a close frame (default), or `destroy` the socket without one (an abandoned consumer). gRPC: either cancels the call. */
  readonly leave?: 'close' | 'destroy';
}

const FRAME_ID = /^([A-Za-z0-9_-]{22})\.(0|[1-9]\d{0,15})$/;

/** The stream's path with the fixture's params, percent-encoded. */
const pathFor = (stream: ConformanceStream, fixture: Fixture) =>
  stream.path.map((p) => (typeof p === 'string' ? p : encodeURIComponent(String(fixture.params[p.param])))).join('');
/** `baseUrl` with an http(s) scheme (the control endpoint, the HTTP transports), without a trailing slash. */
export const httpBase = (baseUrl: string) => baseUrl.replace(/\/+$/, '').replace(/^ws(s?):/i, 'http$1:');

/** The URL and fetch init for one stream call, as docs/http-streaming.md "Opening a stream" says. */
export function requestFor(stream: ConformanceStream, fixture: Fixture, baseUrl: string, resumeFrom?: string): { url: string; init: RequestInit } {
  const url = new URL(httpBase(baseUrl) + pathFor(stream, fixture));
  const headers = new Headers(fixture.headers);
  headers.set('accept', stream.transport === 'sse' ? 'text/event-stream' : 'application/x-ndjson');
  let body: string | undefined;
  if (stream.method === 'POST') {
    headers.set('content-type', 'application/json');
    body = JSON.stringify(fixture.request ?? null);
  } else if (fixture.request && typeof fixture.request === 'object') {
    for (const [k, v] of Object.entries(fixture.request)) for (const x of [v].flat()) if (x != null) url.searchParams.append(k, String(x));
  }
  if (resumeFrom !== undefined) headers.set(stream.transport === 'sse' ? 'last-event-id' : 'streamspec-resume', resumeFrom);
  return { url: url.href, init: { method: stream.method, headers, ...(body !== undefined ? { body } : {}) } };
}

/**
 * A numbered frame as seen, or what is wrong with it: `id` must be `<streamId>.<seq>` and agree
 * with `seq` (`undefined` for SSE, which has no seq field).
 */
export function numbered(type: unknown, id: unknown, data: unknown, seq: unknown, at: number, dropped: number): Seen | string {
  const m = typeof id === 'string' ? FRAME_ID.exec(id) : null;
  if (typeof type !== 'string' || !type) return `a frame without a type (id ${String(id)})`;
  if (!m) return `frame ${type} has id ${JSON.stringify(id)}, not <streamId>.<seq>`;
  if (seq !== undefined && seq !== Number(m[2])) return `frame ${type} has seq ${JSON.stringify(seq)} but id ${String(id)}`;
  return { kind: 'frame', at, id: id as string, streamId: m[1]!, seq: Number(m[2]), type, data, dropped };
}

/** Opens the stream and records everything until the body ends, `until` says stop, or the timeout. */
export async function record(stream: ConformanceStream, fixture: Fixture, baseUrl: string, options: OpenOptions = {}): Promise<Recording> {
  if (stream.transport === 'websocket') return recordWebSocket(stream, fixture, baseUrl, options);
  if (stream.transport === 'grpc') {
    if (!stream.grpc) throw new Error(`stream ${stream.name}: a gRPC stream's descriptor needs its reader (grpc)`);
    return stream.grpc.record(stream, fixture, baseUrl, options);
  }
  const started = performance.now();
  const ac = new AbortController();
  const timeoutMs = options.timeoutMs ?? 30_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort();
  }, timeoutMs);
  const seen: Seen[] = [];
  let malformed: string | undefined;
  let stopped = false;
  const onStop = () => {
    stopped = true;
    ac.abort();
  };
  if (options.signal?.aborted) onStop();
  options.signal?.addEventListener('abort', onStop, { once: true });
  try {
    const { url, init } = requestFor(stream, options.input ?? fixture, baseUrl, options.resumeFrom);
    const res = await fetch(url, { ...init, signal: ac.signal });
    const contentType = res.headers.get('content-type') ?? '';
    const streaming = res.status === 200 && /^(text\/event-stream|application\/x-ndjson)\b/i.test(contentType);
    if (!streaming) {
      const text = await res.text();
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON: kept as text for the message
      }
      return { status: res.status, contentType, body, seen, ended: 'end', malformed: undefined };
    }
    let dropped = 0;
    const push = async (s: Seen) => {
      seen.push(s);
      await options.onSeen?.(s);
      if (options.until?.(seen)) {
        stopped = true;
        ac.abort();
      }
    };
    const frame = (type: unknown, id: unknown, data: unknown, seq: unknown): Seen | string => {
      if (type === '$dropped') return typeof data === 'object' && data && Number.isInteger((data as { count?: unknown }).count) ? ((dropped += (data as { count: number }).count), '') : `a $dropped frame without a whole count`;
      const s = numbered(type, id, data, seq, performance.now() - started, dropped);
      if (typeof s !== 'string') dropped = 0;
      return s;
    };
    const pending: Seen[] = [];
    const take = (r: Seen | string) => {
      if (typeof r === 'string') {
        if (r) malformed ??= r;
      } else pending.push(r);
    };
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    const { createParser } = stream.transport === 'sse' ? await import('eventsource-parser') : { createParser: undefined };
    const parser =
      createParser
        ? createParser({
            onEvent: (e) => {
              let data: unknown;
              try {
                data = JSON.parse(e.data);
              } catch {
                malformed ??= `event ${e.event ?? 'message'} (id ${e.id}) has data that is not JSON: ${e.data.slice(0, 60)}`;
                return;
              }
              take(frame(e.event ?? 'message', e.id, data, undefined));
            },
            onComment: () => pending.push({ kind: 'heartbeat', at: performance.now() - started }),
          })
        : undefined;
    let rest = '';
    const ndjsonLine = (line: string) => {
      if (!line.trim()) return;
      let o: unknown;
      try {
        o = JSON.parse(line);
      } catch {
        malformed ??= `a line that is not JSON: ${line.slice(0, 60)}`;
        return;
      }
      if (typeof o !== 'object' || o === null || Array.isArray(o)) return void (malformed ??= `a line that is not a JSON object: ${line.slice(0, 60)}`);
      const f = o as { seq?: unknown; id?: unknown; type?: unknown; data?: unknown; dropped?: unknown };
      if (f.type === '$heartbeat') return void pending.push({ kind: 'heartbeat', at: performance.now() - started });
      if (f.dropped !== undefined) take(frame('$dropped', undefined, { count: f.dropped }, undefined));
      take(frame(f.type, f.id, f.data ?? null, f.seq ?? 'missing'));
    };
    try {
      for (let c; !(c = await reader.read()).done; ) {
        const text = decoder.decode(c.value, { stream: true });
        if (parser) parser.feed(text);
        else {
          const lines = (rest + text).split('\n');
          rest = lines.pop()!;
          lines.forEach(ndjsonLine);
        }
        for (const s of pending.splice(0)) if (!stopped) await push(s);
        if (malformed || stopped) break;
      }
    } catch (e) {
      if (!stopped && !timedOut) throw e;
    }
    if (!stopped && !timedOut && !malformed && rest.trim()) malformed = `the body ended inside a line: ${rest.slice(0, 60)}`;
    return { status: res.status, contentType, body: undefined, seen, ended: stopped ? 'stopped' : timedOut ? 'timeout' : 'end', malformed };
  } catch (e) {
    if (timedOut) return { status: 0, contentType: '', body: undefined, seen, ended: 'timeout', malformed };
    throw e;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onStop);
    ac.abort();
  }
}

/** What the WebSocket reader uses of npm `ws` (loaded on first use). */
interface WsSocket {
  readonly protocol: string;
  send(data: string): void;
  close(code?: number): void;
  terminate(): void;
  on(event: 'open', listener: () => void): void;
  on(event: 'message', listener: (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => void): void;
  on(event: 'close', listener: (code: number, reason: Buffer) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
  on(event: 'unexpected-response', listener: (req: unknown, res: import('node:http').IncomingMessage) => void): void;
}

/**
 * The WebSocket reader: opens the stream with the open frame (request, resume id, a grant of
 * credits), sends the fixture's client messages within the server's grants and then `$end`, and
 * records every frame and the close. It grants more as it takes frames, as the generated client
 * does (half the window at a time), unless told not to.
 */
async function recordWebSocket(stream: ConformanceStream, fixture: Fixture, baseUrl: string, options: OpenOptions): Promise<Recording> {
  const { default: WebSocket } = (await import('ws')) as unknown as { default: new (url: string, protocols: string[]) => WsSocket };
  const started = performance.now();
  const input = options.input ?? fixture;
  const window = Math.max(1, options.credits ?? stream.credits ?? stream.backpressure.buffer);
  const takesMessages = stream.direction !== undefined && stream.direction !== 'server-to-client';
  const outbox = takesMessages ? [...(options.messages ?? input.messages ?? [])] : [];
  const url = `${httpBase(baseUrl).replace(/^http/i, 'ws')}${pathFor(stream, input)}`;
  const ws = new WebSocket(url, ['streamspec.v1']);
  const seen: Seen[] = [];
  let status = 0;
  let body: unknown;
  let malformed: string | undefined;
  let close: { code: number; reason: string } | undefined;
  let ended: Recording['ended'] | undefined;
  let dropped = 0;
  let owed = 0;
  let grant = 0; // client messages the server still allows
  let sent = 0;
  let endSent = false;
  // Frames are handed on one at a time, in order: a slow onSeen is a slow consumer.
  let work = Promise.resolve();

  return new Promise<Recording>((resolve, reject) => {
    const finish = (how: Recording['ended']) => {
      if (ended) return;
      ended = how;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onStop);
      // Frames still being handed to onSeen are part of the recording; wait for them.
      void work.then(() => resolve({ status, contentType: '', body, seen, ended: how, malformed, protocol: ws.protocol, ...(close ? { close } : {}) }));
    };
    const leave = (how: Recording['ended']) => {
      if (ended) return;
      if (how === 'stopped' && options.leave !== 'destroy' && status === 101) ws.close(1000);
      else ws.terminate();
      finish(how);
    };
    const onStop = () => leave('stopped');
    const timer = setTimeout(() => leave('timeout'), options.timeoutMs ?? 30_000);
    if (options.signal?.aborted) return onStop();
    options.signal?.addEventListener('abort', onStop, { once: true });

    const send = (f: object) => {
      if (!ended) ws.send(JSON.stringify(f));
    };
    const flush = () => {
      for (; grant > 0 && outbox.length; grant--) {
        const m = outbox.shift() as { type?: unknown; data?: unknown };
        send({ seq: ++sent, type: m.type, data: m.data });
      }
      if (takesMessages && !outbox.length && options.end !== false && !endSent) {
        endSent = true;
        send({ type: '$end' });
      }
    };
    const push = async (s: Seen) => {
      seen.push(s);
      await options.onSeen?.(s);
      if (options.until?.(seen)) return leave('stopped');
      if (s.kind === 'frame' && options.grant !== false && ++owed * 2 >= window) {
        send({ type: '$credit', n: owed });
        owed = 0;
      }
    };
    const take = (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): Seen | string | undefined => {
      const at = performance.now() - started;
      if (isBinary) return 'a binary frame (every frame is JSON text)';
      const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
      let o: unknown;
      try {
        o = JSON.parse(text);
      } catch {
        return `a frame that is not JSON: ${text.slice(0, 60)}`;
      }
      if (typeof o !== 'object' || o === null || Array.isArray(o)) return `a frame that is not a JSON object: ${text.slice(0, 60)}`;
      const f = o as { seq?: unknown; id?: unknown; type?: unknown; data?: unknown; dropped?: unknown; n?: unknown };
      if (f.type === '$heartbeat') return { kind: 'heartbeat', at };
      if (f.type === '$credit') {
        if (!Number.isSafeInteger(f.n) || (f.n as number) < 1) return `a $credit frame whose n is ${JSON.stringify(f.n)}, not a positive whole number`;
        grant += f.n as number;
        flush();
        return { kind: 'credit', at, n: f.n as number };
      }
      if (f.type === '$error' && f.seq === undefined && f.id === undefined) {
        if (seen.some((x) => x.kind === 'frame')) return 'an $error frame without seq in the middle of the stream';
        body = f.data;
        return undefined;
      }
      if (f.dropped !== undefined) {
        if (!Number.isSafeInteger(f.dropped) || (f.dropped as number) < 0) return `frame ${String(f.type)} has dropped ${JSON.stringify(f.dropped)}, not a whole number`;
        dropped += f.dropped as number;
      }
      const s = numbered(f.type, f.id, f.data ?? null, f.seq ?? 'missing', at, dropped);
      if (typeof s !== 'string') dropped = 0;
      return s;
    };

    ws.on('unexpected-response', (_req, res) => {
      status = res.statusCode ?? 0;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          body = text;
        }
        ws.terminate();
        finish('end');
      });
    });
    ws.on('open', () => {
      status = 101;
      send({
        type: '$open',
        ...(input.request !== undefined ? { request: input.request } : {}),
        ...(input.headers !== undefined ? { headers: input.headers } : {}),
        ...(options.resumeFrom !== undefined ? { resume: options.resumeFrom } : {}),
        credits: window,
      });
      flush();
    });
    ws.on('message', (data, isBinary) => {
      if (ended || malformed) return;
      const s = take(data, isBinary);
      if (typeof s === 'string') {
        malformed = s;
        return leave('stopped');
      }
      if (s) work = work.then(() => (ended ? undefined : push(s))).catch(reject);
    });
    ws.on('close', (code, reason) => {
      if (ended) return;
      close = { code, reason: reason.toString('utf8') };
      finish('end');
    });
    ws.on('error', (e) => {
      // Before the upgrade answered: the server is not there (as fetch's rejection).
      if (status === 0 && !ended) {
        clearTimeout(timer);
        ended = 'end';
        reject(e);
      }
    });
  });
}

/** `alert {"level":"warn",...}`, cut to a readable length. */
const describeFrame = (f: { readonly type: string; readonly data: unknown }) => {
  const data = JSON.stringify(f.data) ?? 'undefined';
  return `${f.type} ${data.length > 80 ? `${data.slice(0, 77)}...` : data}`;
};

const frames = (seen: readonly Seen[]) => seen.filter((s): s is Extract<Seen, { kind: 'frame' }> => s.kind === 'frame');

// ---------------------------------------------------------------------------------------------
// The checks

/** Every check of one stream, in the order a suite runs them. */
export function conformanceChecks(stream: ConformanceStream, fixture: Fixture): Check[] {
  const who = `stream ${stream.name}`;
  const fail = (check: string, message: string): never => {
    throw new ConformanceViolation(check, `${who}: ${message}`);
  };
  const ok: CheckResult = { ok: true };
  const ws = stream.transport === 'websocket';
  const grpc = stream.transport === 'grpc';
  // WebSocket and gRPC: only server messages are checked; a client-to-server stream has none but its terminal one.
  const oneWayIn = stream.direction === 'client-to-server';
  const NO_SERVER_MESSAGES = 'a client-to-server stream has no server messages before its terminal one';

  /**
   * How the server answered instead of opening the stream, or undefined when it streamed: an HTTP
   * status other than 200 (101 for WebSocket); a WebSocket close, or a gRPC status, before any
   * message that is not the stream's own error end.
   */
  const refusal = (r: Recording): string | undefined => {
    if (grpc) return r.grpc && r.grpc.code !== 0 && !frames(r.seen).length && !errorStatus(r.grpc) ? `ended the call with status ${describeStatus(r.grpc)}` : undefined;
    if (r.status !== (ws ? 101 : 200)) return `answered ${r.status} ${describeBody(r.body)}`;
    if (ws && r.close && !frames(r.seen).length && !errorClose(r.close.code)) return `closed ${describeClose(r.close)}${r.body === undefined ? '' : ` (${describeBody(r.body)})`}`;
    return undefined;
  };
  const CHECK_FIXTURE = `check the fixture's params, request${oneWayIn || stream.direction === 'bidirectional' ? ', messages' : ''} and headers`;

  /** A whole stream, from the start, checked for framing on the way. */
  const whole = async (ctx: CheckContext, check: string, options: OpenOptions = {}) => {
    const r = await record(stream, fixture, ctx.baseUrl, { timeoutMs: ctx.timeoutMs, ...options });
    const refused = refusal(r);
    if (refused) fail(check, `${refused} instead of streaming (${CHECK_FIXTURE})`);
    if (r.malformed) fail(check, `malformed frame: ${r.malformed}`);
    return r;
  };
  /** An out-of-band error of the contract (WebSocket): close 4000 + index of a code, or 1011 INTERNAL. */
  const errorClose = (code: number) => stream.errors.mode === 'out-of-band' && (code === 1011 || (code >= 4000 && code < 4000 + Math.min(400, stream.errors.codes.length)));
  /**
   * gRPC: a status that is the stream's own error end (fail-fast or out-of-band), with one of the
   * contract's codes; not one of the router's refusals before a stream opens.
   */
  const errorStatus = (g: GrpcStatus) => stream.errors.mode !== 'in-band' && g.errorCode !== undefined && stream.errors.codes.includes(g.errorCode) && !REFUSALS.has(g.errorCode);

  const framing: Check = {
    name: 'framing',
    title: ws ? 'frames and subprotocol follow the transport' : 'frames and content type follow the transport',
    async run(ctx) {
      const r = await whole(ctx, 'framing');
      if (ws) {
        if (r.protocol !== 'streamspec.v1') fail('framing', `the server accepted the subprotocol ${JSON.stringify(r.protocol)}, expected streamspec.v1`);
      } else if (grpc) {
        if (!/^application\/grpc(\+proto)?\s*(;|$)/i.test(r.contentType)) fail('framing', `Content-Type is ${JSON.stringify(r.contentType)}, expected application/grpc+proto`);
      } else {
        const want = stream.transport === 'sse' ? /^text\/event-stream\s*(;\s*charset=utf-8\s*)?$/i : /^application\/x-ndjson\s*(;|$)/i;
        if (!want.test(r.contentType)) fail('framing', `Content-Type is ${JSON.stringify(r.contentType)}, expected ${stream.transport === 'sse' ? 'text/event-stream' : 'application/x-ndjson'}`);
      }
      const fs = frames(r.seen);
      const ids = new Set(fs.map((f) => f.streamId));
      if (ids.size > 1) fail('framing', `frames of ${ids.size} stream instances in one response (${[...ids].join(', ')})`);
      for (const f of fs)
        if (f.type.startsWith('$') && f.type !== '$error') fail('framing', `message ${f.seq} has the unknown reserved type ${f.type}`);
      return ok;
    },
  };

  const schema: Check = {
    name: 'schema',
    title: 'every message is valid against its schema',
    async run(ctx) {
      const r = await whole(ctx, 'schema');
      for (const [i, f] of frames(r.seen).entries()) {
        if (f.type === '$error') {
          const d = f.data as { code?: unknown; message?: unknown } | null;
          if (typeof d?.code !== 'string' || !stream.errors.codes.includes(d.code))
            fail('schema', `message ${i + 1} is an error with code ${JSON.stringify(d?.code)}, not one of the contract's codes (${stream.errors.codes.join(', ')})`);
          if (typeof d?.message !== 'string') fail('schema', `message ${i + 1} is an error without a message string`);
          continue;
        }
        const issues = stream.validate({ type: f.type, data: f.data });
        if (issues.length)
          fail('schema', `message ${i + 1} (${f.type}, seq ${f.seq}) breaks the contract: ${issues.map((x) => `${x.path} ${x.message}`).join('; ')}`);
      }
      return ok;
    },
  };

  const sequence: Check = {
    name: 'sequence',
    title: 'sequence numbers go up by exactly one',
    async run(ctx) {
      const r = await whole(ctx, 'sequence');
      const problem = sequenceProblem(frames(r.seen), 1);
      if (problem) fail('sequence', problem);
      return ok;
    },
  };

  const termination: Check = {
    name: 'termination',
    title: 'exactly one terminal message, last, then the connection closes',
    async run(ctx) {
      const r = await whole(ctx, 'termination');
      const fs = frames(r.seen);
      if (r.ended === 'timeout') fail('termination', `no end within ${ctx.timeoutMs ?? 30_000} ms (${fs.length} messages so far)`);
      const at = fs.findIndex((f) => f.type === stream.terminal);
      if (grpc) {
        const status = r.grpc ? `status ${describeStatus(r.grpc)}` : 'no status';
        // Fail-fast and out-of-band errors end the call with a status carrying a contract code.
        if (at < 0 && r.grpc && errorStatus(r.grpc)) return ok;
        if (at < 0) fail('termination', `the call ended with ${status} after ${fs.length} messages without the terminal message ${stream.terminal} (silence is not termination)`);
        if (at < fs.length - 1) fail('termination', `message ${at + 2} (${fs[at + 1]!.type}) came after the terminal message ${stream.terminal}`);
        if (r.grpc?.code !== 0) fail('termination', `after the terminal message ${stream.terminal} the call ended with ${status}, expected OK`);
        return ok;
      }
      const error = fs.findIndex((f) => f.type === '$error');
      const closed = r.close ? `the connection closed ${describeClose(r.close)}` : 'the connection closed';
      // WebSocket out-of-band errors end the stream with a close code and no frame.
      if (at < 0 && error < 0 && ws && r.close && errorClose(r.close.code)) return ok;
      if (at < 0 && error < 0) fail('termination', `${ws ? closed : 'the response ended'} after ${fs.length} messages without the terminal message ${stream.terminal} (silence is not termination)`);
      const end = at < 0 ? error : error < 0 ? at : Math.min(at, error);
      if (end < fs.length - 1) fail('termination', `message ${end + 2} (${fs[end + 1]!.type}) came after the ${fs[end]!.type === '$error' ? '$error frame' : `terminal message ${stream.terminal}`}`);
      if (ws && r.close?.code !== 1000) fail('termination', `after the ${fs[end]!.type === '$error' ? '$error frame' : `terminal message ${stream.terminal}`} ${closed}, expected 1000`);
      return ok;
    },
  };

  const endResume: Check = {
    name: 'resume-after-end',
    title: ws ? 'a resume after the end is closed 1000 with no messages' : grpc ? 'a resume after the end ends OK with no messages' : 'a reconnect after the end is answered 204',
    async run(ctx) {
      if (!stream.resume) return { skipped: 'the stream has resume: none' };
      const r = await whole(ctx, 'resume-after-end');
      const last = frames(r.seen).at(-1);
      if (!last || last.type !== stream.terminal) return { skipped: 'the stream did not end with its terminal message (see the termination check)' };
      const again = await record(stream, fixture, ctx.baseUrl, { resumeFrom: last.id, timeoutMs: 5_000, messages: [] });
      if (grpc) {
        if (again.grpc?.code !== 0 || frames(again.seen).length > 0)
          fail('resume-after-end', `a resume from the terminal message's id ${last.id} ${grpcEnding(again)}, expected OK with no messages (so clients stop reconnecting)`);
        return ok;
      }
      if (ws) {
        const n = frames(again.seen).length;
        if (again.status !== 101 || again.close?.code !== 1000 || n > 0)
          fail('resume-after-end', `a resume from the terminal message's id ${last.id} was answered ${again.status === 101 ? (again.close ? `with close ${describeClose(again.close)}` : 'with a connection left open') : `${again.status} ${describeBody(again.body)}`}${n ? ` and ${n} messages` : ''}, expected close 1000 with no messages (so clients stop reconnecting)`);
        return ok;
      }
      if (again.status !== 204)
        fail('resume-after-end', `a reconnect from the terminal message's id ${last.id} was answered ${again.status}${frames(again.seen).length ? ` with ${frames(again.seen).length} messages` : ''}, expected 204 (so clients stop reconnecting)`);
      return ok;
    },
  };

  const resume: Check = {
    name: 'resume',
    title: 'a resume from a mid-stream id yields the rest exactly once',
    async run(ctx) {
      if (!stream.resume) return { skipped: 'the stream has resume: none' };
      if (oneWayIn) return { skipped: NO_SERVER_MESSAGES };
      const full = await whole(ctx, 'resume');
      const total = frames(full.seen).length;
      if (total < 3) return { skipped: `the stream has ${total} messages; a resume needs at least 3` };
      const k = Math.min(2, total - 2);

      // Content, not only numbering: a resume of the call read to its end must give back that
      // call's own messages after k (a server that restarts its handler numbers on, but repeats).
      // (A stream that did not end in time is judged by the termination check, not waited for twice.)
      const seen = frames(full.seen);
      const again = full.ended === 'timeout' ? undefined : await record(stream, fixture, ctx.baseUrl, { resumeFrom: seen[k - 1]!.id, timeoutMs: ctx.timeoutMs, messages: [] });
      // RESUME_EXPIRED: the contract's retention is shorter than the stream; the resume below still runs.
      const expired = ws ? again?.close?.code === 4410 : grpc ? again?.grpc?.errorCode === 'RESUME_EXPIRED' : again?.status === 410;
      if (again && !expired) {
        const refused = refusal(again);
        if (refused) fail('resume', `a resume from ${seen[k - 1]!.id} (message ${k} of a stream read to its end) ${refused}`);
        if (again.malformed) fail('resume', `after a resume from message ${k}: malformed frame: ${again.malformed}`);
        const gap = sequenceProblem(frames(again.seen), k + 1, `after resuming from message ${k}, `);
        if (gap) fail('resume', gap);
        const bySeq = new Map(seen.map((f) => [f.seq, f]));
        for (const [i, f] of frames(again.seen).entries()) {
          const was = bySeq.get(f.seq);
          if (!was) continue; // past what the first read saw: nothing to compare with
          if (f.type !== was.type || !isDeepStrictEqual(f.data, was.data))
            fail('resume', `after resuming from message ${k}, message ${i + 1} (seq ${f.seq}) is ${describeFrame(f)}, but seq ${f.seq} was ${describeFrame(was)} (the resume did not continue where the stream was)`);
        }
        if (frames(again.seen).length < seen.length - k) fail('resume', `a resume from message ${k} of a stream of ${seen.length} messages delivered ${frames(again.seen).length}, expected ${seen.length - k}`);
      }

      // A stream left mid-way: the server goes on from where it was.
      const first = await whole(ctx, 'resume', { until: (s) => frames(s).length >= k });
      const from = frames(first.seen)[k - 1]!;
      // WebSocket: the client messages went on the first connection; the resumed one only ends its side.
      const rest = await record(stream, fixture, ctx.baseUrl, { resumeFrom: from.id, timeoutMs: ctx.timeoutMs, messages: [] });
      const refused = refusal(rest);
      if (refused) fail('resume', `a resume from ${from.id} (message ${k}) ${refused}`);
      if (ws && rest.close && !frames(rest.seen).length) fail('resume', `a resume from ${from.id} (message ${k}) was closed ${describeClose(rest.close)} with no messages`);
      if (grpc && rest.grpc && rest.grpc.code !== 0 && !frames(rest.seen).length) fail('resume', `a resume from ${from.id} (message ${k}) ended with status ${describeStatus(rest.grpc)} and no messages`);
      if (rest.malformed) fail('resume', `after a resume from message ${k}: malformed frame: ${rest.malformed}`);
      const after = frames(rest.seen);
      if (!after.length) fail('resume', `a resume from message ${k} delivered nothing`);
      if (after[0]!.streamId !== from.streamId) fail('resume', `a resume from ${from.id} continued stream instance ${after[0]!.streamId}`);
      const problem = sequenceProblem(after, k + 1, `after resuming from message ${k}, `);
      if (problem) fail('resume', problem);
      if (after.at(-1)!.type !== stream.terminal && after.at(-1)!.type !== '$error') fail('resume', `after resuming from message ${k} the stream ended without ${stream.terminal}`);
      return ok;
    },
  };

  const resumeExpired: Check = {
    name: 'resume-expired',
    title: 'a resume from an unknown id is RESUME_EXPIRED',
    async run(ctx) {
      if (!stream.resume) return { skipped: 'the stream has resume: none' };
      const id = `${randomBytes(16).toString('base64url')}.1`;
      const r = await record(stream, fixture, ctx.baseUrl, { resumeFrom: id, timeoutMs: 5_000, messages: [] });
      if (grpc) {
        if (r.grpc?.code !== OUT_OF_RANGE || r.grpc.errorCode !== 'RESUME_EXPIRED' || frames(r.seen).length > 0)
          fail('resume-expired', `a resume from an id the server never issued (${id}) ${grpcEnding(r)}, expected OUT_OF_RANGE (RESUME_EXPIRED) (a silent gap otherwise)`);
        return ok;
      }
      if (ws) {
        const n = frames(r.seen).length;
        if (r.status !== 101 || r.close?.code !== 4410 || n > 0)
          fail('resume-expired', `a resume from an id the server never issued (${id}) was answered ${r.status === 101 ? (r.close ? `with close ${describeClose(r.close)}` : 'with a connection left open') : `${r.status} ${describeBody(r.body)}`}${n ? ` and ${n} messages` : ''}, expected close 4410 RESUME_EXPIRED (a silent gap otherwise)`);
        return ok;
      }
      const code = (r.body as { code?: unknown } | undefined)?.code;
      if (r.status !== 410 || code !== 'RESUME_EXPIRED')
        fail('resume-expired', `a resume from an id the server never issued (${id}) was answered ${r.status} ${describeBody(r.body)}${frames(r.seen).length ? ` with ${frames(r.seen).length} messages` : ''}, expected 410 RESUME_EXPIRED (a silent gap otherwise)`);
      return ok;
    },
  };

  const heartbeat: Check = {
    name: 'heartbeat',
    title: 'heartbeats keep a quiet connection alive',
    async run(ctx) {
      const r = await whole(ctx, 'heartbeat');
      const times = [0, ...r.seen.map((s) => s.at)];
      const span = times.at(-1)!;
      // A heartbeat is due once the connection has been quiet for a whole interval; timers and a
      // busy machine add a little.
      const allowed = stream.heartbeatMs + Math.max(500, stream.heartbeatMs / 5);
      let worst = 0;
      let at = 0;
      for (let i = 1; i < times.length; i++) if (times[i]! - times[i - 1]! > worst) [worst, at] = [times[i]! - times[i - 1]!, times[i - 1]!];
      if (worst > allowed) fail('heartbeat', `the connection was silent for ${Math.round(worst)} ms from ${Math.round(at)} ms on; the heartbeat interval is ${stream.heartbeatMs} ms`);
      if (span < stream.heartbeatMs) return { skipped: `the stream ended within one heartbeat interval (${stream.heartbeatMs} ms): no quiet stretch to observe` };
      return ok;
    },
  };

  const loss: Check = {
    name: 'loss',
    title: stream.lossy ? 'dropped messages are counted' : 'no message is dropped',
    async run(ctx) {
      if (oneWayIn) return { skipped: NO_SERVER_MESSAGES };
      const r = await whole(ctx, 'loss');
      const dropped = frames(r.seen).reduce((n, f) => n + f.dropped, 0);
      if (!stream.lossy && dropped) fail('loss', `the server reported ${dropped} dropped messages, but the stream is not lossy (backpressure ${stream.backpressure.kind})`);
      return ok;
    },
  };

  const invalid: Check = {
    name: 'invalid-request',
    title: ws ? 'an invalid request is closed 4400 before the stream starts' : grpc ? 'an invalid request ends INVALID_ARGUMENT before the stream starts' : 'an invalid request is refused before the stream starts',
    async run(ctx) {
      const bad = invalidInput(stream, fixture);
      if (!bad) return { skipped: 'no params or request of this stream can be made invalid' };
      const r = await record(stream, fixture, ctx.baseUrl, { input: bad, timeoutMs: 5_000 });
      const code = (r.body as { code?: unknown } | undefined)?.code;
      if (grpc) {
        if (r.grpc?.code !== INVALID_ARGUMENT || r.grpc.errorCode !== 'INVALID_REQUEST' || frames(r.seen).length > 0)
          fail('invalid-request', `a request with ${bad.why} ${grpcEnding(r)}, expected INVALID_ARGUMENT (INVALID_REQUEST)`);
        return ok;
      }
      if (ws) {
        const n = frames(r.seen).length;
        if (r.status !== 101 || r.close?.code !== 4400 || n > 0)
          fail('invalid-request', `a request with ${bad.why} was answered ${r.status === 101 ? (r.close ? `with close ${describeClose(r.close)}` : 'with a connection left open') : `${r.status} ${describeBody(r.body)}`}${n ? ` and ${n} messages` : ''}, expected close 4400 INVALID_REQUEST`);
        return ok;
      }
      if (r.status !== 400 || code !== 'INVALID_REQUEST')
        fail('invalid-request', `a request with ${bad.why} was answered ${r.status}${frames(r.seen).length ? ` with ${frames(r.seen).length} messages` : ` ${describeBody(r.body)}`}, expected 400 INVALID_REQUEST`);
      return ok;
    },
  };

  const slowConsumer: Check = {
    name: 'slow-consumer',
    title: ws
      ? `the server sends no more than the consumer's credit (${stream.backpressure.kind}, buffer ${stream.backpressure.buffer})`
      : `a slow consumer holds the producer back (${stream.backpressure.kind}, buffer ${stream.backpressure.buffer})`,
    async run(ctx) {
      if (oneWayIn) return { skipped: NO_SERVER_MESSAGES };
      if (ws) return slowWebSocketConsumer(ctx);
      // The consumer stalls inside onSeen after the first message, long enough for every buffer
      // between it and the producer to fill; then the server's own account must stay in bounds.
      let before: InstanceReport | undefined;
      let after: InstanceReport | undefined;
      await whole(ctx, 'slow-consumer', {
        until: (s) => frames(s).length >= 1,
        onSeen: async (s) => {
          if (s.kind !== 'frame' || !(before = await control(ctx.baseUrl, s.streamId))) return;
          await sleep(500);
          after = await control(ctx.baseUrl, s.streamId);
        },
      });
      if (!before) return { skipped: NO_CONTROL };
      if (!after) return { skipped: 'the stream instance was gone from the control endpoint' };
      if (after.maxQueued > stream.backpressure.buffer)
        fail('slow-consumer', `the server held ${after.maxQueued} messages the transport had not taken for a slow consumer; the contract's buffer is ${stream.backpressure.buffer} (backpressure ignored)`);
      if (before.handler === 'done') return { skipped: 'the handler had finished before the consumer slowed down (a longer stream shows more)' };
      return ok;
    },
  };

  /**
   * WebSocket: the consumer grants SLOW_GRANT credits in its open frame and nothing after, then
   * waits; every numbered frame beyond the grant is the server ignoring backpressure. This needs
   * no control endpoint; with one, the server's own account of what it held is checked too.
   */
  const slowWebSocketConsumer = async (ctx: CheckContext): Promise<CheckResult> => {
    const total = frames((await whole(ctx, 'slow-consumer')).seen).length;
    if (total <= SLOW_GRANT) return { skipped: `the stream has ${total} messages, no more than the check's grant of ${SLOW_GRANT}: nothing to hold back` };
    const stop = new AbortController();
    let waiting = false;
    let held: InstanceReport | undefined;
    const r = await whole(ctx, 'slow-consumer', {
      credits: SLOW_GRANT,
      grant: false,
      signal: stop.signal,
      onSeen: (s) => {
        if (s.kind !== 'frame' || waiting) return;
        waiting = true;
        setTimeout(() => {
          void control(ctx.baseUrl, s.streamId)
            .then((c) => (held = c))
            .finally(() => stop.abort());
        }, SLOW_WAIT_MS);
      },
    });
    const n = frames(r.seen).length;
    if (n > SLOW_GRANT) fail('slow-consumer', `the server sent ${n} messages to a consumer that granted ${SLOW_GRANT} credits and no more (credit ignored)`);
    if (held && held.maxQueued > stream.backpressure.buffer)
      fail('slow-consumer', `the server held ${held.maxQueued} messages the transport had not taken for a slow consumer; the contract's buffer is ${stream.backpressure.buffer} (backpressure ignored)`);
    return ok;
  };

  const abandoned: Check = {
    name: 'abandoned-consumer',
    title: "the handler stops when the consumer goes away",
    async run(ctx) {
      // Asked while still connected: once the consumer has left, a stopped handler is the point.
      if (oneWayIn) return { skipped: `${NO_SERVER_MESSAGES}: no message names the stream instance while the handler runs` };
      let f: Extract<Seen, { kind: 'frame' }> | undefined;
      let first: InstanceReport | undefined;
      await whole(ctx, 'abandoned-consumer', {
        // WebSocket: the client leaves without a close frame and without ending its side first.
        ...(ws ? { leave: 'destroy', end: false } : {}),
        until: (s) => frames(s).length >= 1,
        onSeen: async (s) => {
          if (s.kind === 'frame' && !f) first = await control(ctx.baseUrl, (f = s).streamId);
        },
      });
      if (!f) return { skipped: 'no message arrived' };
      if (!first) return { skipped: NO_CONTROL };
      if (first.handler === 'done') return { skipped: 'the handler had finished before the consumer left (a longer stream shows more)' };
      const deadline = performance.now() + 1_500;
      for (;;) {
        const now = await control(ctx.baseUrl, f.streamId);
        if (!now || now.handler === 'done') return ok;
        if (performance.now() > deadline) fail('abandoned-consumer', `the handler still runs 1.5 s after the consumer left (it has produced ${now.pulled} values)`);
        await sleep(50);
      }
    },
  };

  return [framing, schema, sequence, termination, endResume, resume, resumeExpired, heartbeat, loss, invalid, slowConsumer, abandoned];
}

/**
 * A variation of the fixture that the contract's own validators reject, so the server must answer
 * 400: the first of a few simple mutations (a param or request property replaced, removed or
 * added) that breaks it. Undefined when none does (a stream whose inputs accept anything).
 */
export function invalidInput(stream: ConformanceStream, fixture: Fixture): (Fixture & { readonly why: string }) | undefined {
  if (stream.grpc) return invalidGrpcInput(stream, stream.grpc, fixture);
  const values = ['!', '-1', '1.5', 'not-a-valid-value', 'x'.repeat(4096)];
  for (const key of Object.keys(fixture.params))
    for (const v of values) {
      const params = { ...fixture.params, [key]: v };
      if (stream.validateParams(params).length) return { ...fixture, params, why: `params.${key} = ${JSON.stringify(v.slice(0, 20))}` };
    }
  if (!stream.hasRequest) return undefined;
  // WebSocket: the request is JSON in the open frame, as a POST body is.
  if (stream.method === 'POST' || stream.transport === 'websocket') {
    for (const request of ['not an object', [], null])
      if (stream.validateRequest(request).length) return { ...fixture, request, why: `the request body ${JSON.stringify(request)}` };
    return undefined;
  }
  // GET: the request travels as query parameters, so only strings (and repeats) can be sent.
  const base = (typeof fixture.request === 'object' && fixture.request !== null ? fixture.request : {}) as Record<string, unknown>;
  for (const key of Object.keys(base)) {
    const { [key]: _, ...without } = base;
    if (stream.validateRequest(without).length) return { ...fixture, request: without, why: `the request without ${key}` };
    for (const v of values) {
      const request = { ...base, [key]: v };
      if (stream.validateRequest(withQueryTypes(request, base)).length) return { ...fixture, request, why: `request.${key} = ${JSON.stringify(v.slice(0, 20))}` };
    }
  }
  const extra = { ...base, streamspecUnknownKey: 'x' };
  if (stream.validateRequest(extra).length) return { ...fixture, request: extra, why: 'an unknown request property streamspecUnknownKey' };
  return undefined;
}

/**
 * gRPC: params and request travel as protobuf fields, so only values a field can hold are tried
 * (a string for a string, a number for a number), and a candidate counts only when what the
 * server reads of it after protobuf (an absent field reads as its zero value) breaks the contract.
 */
function invalidGrpcInput(stream: ConformanceStream, reader: GrpcReader, fixture: Fixture): (Fixture & { readonly why: string }) | undefined {
  const values: unknown[] = ['!', '', '-1', 'not-a-valid-value', 'x'.repeat(4096), -1, 1.5, 2 ** 31, 2 ** 53, 0];
  const rejected = (input: Fixture) => {
    const read = reader.roundTrip(input);
    return read !== undefined && (stream.validateParams(read.params).length > 0 || (stream.hasRequest && stream.validateRequest(read.request).length > 0));
  };
  const show = (v: unknown) => JSON.stringify(typeof v === 'string' ? v.slice(0, 20) : v);
  for (const key of Object.keys(fixture.params))
    for (const v of values) {
      const params = { ...fixture.params, [key]: v };
      if (rejected({ ...fixture, params })) return { ...fixture, params, why: `params.${key} = ${show(v)}` };
    }
  if (!stream.hasRequest) return undefined;
  const base = (typeof fixture.request === 'object' && fixture.request !== null ? fixture.request : {}) as Record<string, unknown>;
  for (const key of Object.keys(base)) {
    const { [key]: _, ...without } = base;
    if (rejected({ ...fixture, request: without })) return { ...fixture, request: without, why: `the request without ${key}` };
    for (const v of values) {
      const request = { ...base, [key]: v };
      if (rejected({ ...fixture, request })) return { ...fixture, request, why: `request.${key} = ${show(v)}` };
    }
  }
  return undefined;
}

/** How the server sees query values: parsed to the fixture's types (number, boolean, array of them). */
function withQueryTypes(request: Record<string, unknown>, like: Record<string, unknown>): Record<string, unknown> {
  const parse = (v: string, want: unknown): unknown => {
    const n = Number(v);
    if (typeof want === 'number' && v.trim() !== '' && Number.isFinite(n)) return n;
    if (typeof want === 'boolean' && (v === 'true' || v === 'false')) return v === 'true';
    return v;
  };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(request)) {
    const was = like[k];
    out[k] = typeof v !== 'string' ? v : Array.isArray(was) ? [parse(v, was[0])] : parse(v, was);
  }
  return out;
}

/**
 * The fixture for a stream: the generated defaults (schema-valid example values), with the
 * JSON file named by STREAMSPEC_FIXTURES over them, when set: the params and headers of its
 * `"*"` entry (typically `{ "headers": { "authorization": "Bearer ..." } }` for a server that
 * requires credentials), then the stream's own entry. Params and headers are merged key by key;
 * a stream's request and messages replace the defaults whole.
 */
export function fixtureFor(stream: ConformanceStream, defaults: Readonly<Record<string, Fixture>>, file = process.env['STREAMSPEC_FIXTURES']): Fixture {
  const base = defaults[stream.name] ?? { params: {} };
  if (!file) return base;
  let given: Record<string, Partial<Fixture>>;
  try {
    given = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Partial<Fixture>>;
  } catch (e) {
    throw new Error(`STREAMSPEC_FIXTURES=${file}: ${(e as Error).message}`);
  }
  const all = given['*'] ?? {};
  const mine = given[stream.name] ?? {};
  const pick = <K extends 'request' | 'messages'>(k: K) => (k in mine ? { [k]: mine[k] } : k in base ? { [k]: base[k] } : {});
  const headers = { ...base.headers, ...all.headers, ...mine.headers };
  return { params: { ...base.params, ...all.params, ...mine.params }, ...pick('request'), ...pick('messages'), ...(Object.keys(headers).length ? { headers } : {}) };
}

/** The slow WebSocket consumer's only grant, and how long it then waits for frames beyond it. */
const SLOW_GRANT = 2;
const SLOW_WAIT_MS = 500;

const NO_CONTROL = `the server has no conformance control endpoint (${CONTROL_PATH}; createRouter option conformanceControl, or streamspec mock --conformance-control)`;

/** The first sequence problem in `fs`, which should be numbered from `first`: a gap, a duplicate or a reordering. */
export function sequenceProblem(fs: readonly { readonly seq: number; readonly streamId: string }[], first: number, prefix = ''): string | undefined {
  let want = first;
  const seen = new Set<number>();
  for (const [i, f] of fs.entries()) {
    if (f.seq !== want) {
      const why = seen.has(f.seq) ? 'duplicate' : f.seq > want && !fs.slice(i + 1).some((g) => g.seq === want) ? 'gap' : 'out of order';
      return `${prefix}message ${i + 1} has seq ${f.seq}, expected ${want} (${why})`;
    }
    if (i > 0 && f.streamId !== fs[0]!.streamId) return `${prefix}message ${i + 1} belongs to stream instance ${f.streamId}, not ${fs[0]!.streamId}`;
    seen.add(f.seq);
    want++;
  }
  return undefined;
}

/** The control endpoint's report on an instance; undefined when the server has no such endpoint. */
export async function control(baseUrl: string, streamId: string): Promise<InstanceReport | undefined> {
  const res = await fetch(`${httpBase(baseUrl)}${CONTROL_PATH}/instances/${encodeURIComponent(streamId)}`).catch(() => undefined);
  if (!res || res.status !== 200) {
    await res?.body?.cancel();
    return undefined;
  }
  return (await res.json()) as InstanceReport;
}

/** gRPC status codes the checks expect by number. */
const INVALID_ARGUMENT = 3;
const OUT_OF_RANGE = 11;
/** The router's answers before a stream opens (docs/grpc.md); never a stream's own error end. */
const REFUSALS: ReadonlySet<string> = new Set(['INVALID_REQUEST', 'RESUME_EXPIRED', 'UNAUTHENTICATED', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED']);

/** `ended with status OK after 21 messages`: how a gRPC call ended, for a check's message. */
function grpcEnding(r: Recording): string {
  const n = frames(r.seen).length;
  return `ended ${r.grpc ? `with status ${describeStatus(r.grpc)}` : `without a status (${r.ended})`}${n ? ` after ${n} messages` : ''}`;
}

/** `OUT_OF_RANGE (RESUME_EXPIRED: stream position ... is not retained)`. */
function describeStatus(g: GrpcStatus): string {
  const detail = [g.errorCode, g.message].filter(Boolean).join(': ');
  return detail ? `${g.name} (${detail.length > 120 ? `${detail.slice(0, 117)}...` : detail})` : g.name;
}

/** `4410 RESUME_EXPIRED: no such position`: a close code with its reason. */
function describeClose(close: { readonly code: number; readonly reason: string }): string {
  return close.reason ? `${close.code} ${close.reason}` : String(close.code);
}

function describeBody(body: unknown): string {
  if (body === undefined) return '(no body)';
  const code = (body as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : JSON.stringify(body).slice(0, 120);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
