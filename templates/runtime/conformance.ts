// Conformance checks: does a running server keep its contract? Each check opens the stream over
// the wire with its own strict reader (not the generated client, which forgives what it can) and
// reports a violation in the contract's words: `stream alerts: message 3 has seq 5, expected 4 (gap)`.
// The generated `conformance/*.conformance.test.ts` suites run these checks under vitest.
// HTTP streaming transports (SSE, NDJSON), per docs/http-streaming.md.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createParser } from 'eventsource-parser';
import { CONTROL_PATH } from './control.js';
import type { Issue } from './validation.js';

/** What a suite knows about one stream of the contract (generated into `conformance/streams.ts`). */
export interface ConformanceStream {
  readonly name: string;
  readonly transport: 'sse' | 'ndjson';
  /** Literal pieces and `{ param }` pieces of the path. */
  readonly path: readonly (string | { readonly param: string })[];
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
}

/** The params and request a check opens the stream with. */
export interface Fixture {
  readonly params: Readonly<Record<string, unknown>>;
  readonly request?: unknown;
}

export interface CheckContext {
  /** `http://127.0.0.1:8080`, no trailing slash needed. */
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
  | { readonly kind: 'heartbeat'; readonly at: number };

export interface Recording {
  readonly status: number;
  readonly contentType: string;
  /** The JSON body of a non-stream answer (400, 410, ...). */
  readonly body: unknown;
  readonly seen: readonly Seen[];
  /** How the body ended: `end` (closed by the server), `stopped` (we stopped reading), `timeout`. */
  readonly ended: 'end' | 'stopped' | 'timeout';
  /** Framing problems, in order; a recording stops at the first. */
  readonly malformed: string | undefined;
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
}

const FRAME_ID = /^([A-Za-z0-9_-]{22})\.(0|[1-9]\d{0,15})$/;

/** The URL and fetch init for one stream call, as docs/http-streaming.md "Opening a stream" says. */
export function requestFor(stream: ConformanceStream, fixture: Fixture, baseUrl: string, resumeFrom?: string): { url: string; init: RequestInit } {
  const path = stream.path.map((p) => (typeof p === 'string' ? p : encodeURIComponent(String(fixture.params[p.param])))).join('');
  const url = new URL(baseUrl.replace(/\/+$/, '') + path);
  const headers = new Headers({ accept: stream.transport === 'sse' ? 'text/event-stream' : 'application/x-ndjson' });
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

/** Opens the stream and records everything until the body ends, `until` says stop, or the timeout. */
export async function record(stream: ConformanceStream, fixture: Fixture, baseUrl: string, options: OpenOptions = {}): Promise<Recording> {
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
      const at = performance.now() - started;
      if (type === '$dropped') return typeof data === 'object' && data && Number.isInteger((data as { count?: unknown }).count) ? ((dropped += (data as { count: number }).count), '') : `a $dropped frame without a whole count`;
      const m = typeof id === 'string' ? FRAME_ID.exec(id) : null;
      if (typeof type !== 'string' || !type) return `a frame without a type (id ${String(id)})`;
      if (!m) return `frame ${type} has id ${JSON.stringify(id)}, not <streamId>.<seq>`;
      if (seq !== undefined && seq !== Number(m[2])) return `frame ${type} has seq ${JSON.stringify(seq)} but id ${String(id)}`;
      const s: Seen = { kind: 'frame', at, id: id as string, streamId: m[1]!, seq: Number(m[2]), type, data, dropped };
      dropped = 0;
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
    const parser =
      stream.transport === 'sse'
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
    ac.abort();
  }
}

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

  /** A whole stream, from the start, checked for framing on the way. */
  const whole = async (ctx: CheckContext, check: string, options: OpenOptions = {}) => {
    const r = await record(stream, fixture, ctx.baseUrl, { timeoutMs: ctx.timeoutMs, ...options });
    if (r.status !== 200) fail(check, `answered ${r.status} ${describeBody(r.body)} instead of opening the stream (check the fixture's params and request)`);
    if (r.malformed) fail(check, `malformed frame: ${r.malformed}`);
    return r;
  };

  const framing: Check = {
    name: 'framing',
    title: 'frames and content type follow the transport',
    async run(ctx) {
      const r = await whole(ctx, 'framing');
      const want = stream.transport === 'sse' ? /^text\/event-stream\s*(;\s*charset=utf-8\s*)?$/i : /^application\/x-ndjson\s*(;|$)/i;
      if (!want.test(r.contentType)) fail('framing', `Content-Type is ${JSON.stringify(r.contentType)}, expected ${stream.transport === 'sse' ? 'text/event-stream' : 'application/x-ndjson'}`);
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
      const error = fs.findIndex((f) => f.type === '$error');
      if (at < 0 && error < 0) fail('termination', `the response ended after ${fs.length} messages without the terminal message ${stream.terminal} (silence is not termination)`);
      const end = at < 0 ? error : error < 0 ? at : Math.min(at, error);
      if (end < fs.length - 1) fail('termination', `message ${end + 2} (${fs[end + 1]!.type}) came after the ${fs[end]!.type === '$error' ? '$error frame' : `terminal message ${stream.terminal}`}`);
      return ok;
    },
  };

  const endResume: Check = {
    name: 'resume-after-end',
    title: 'a reconnect after the end is answered 204',
    async run(ctx) {
      if (!stream.resume) return { skipped: 'the stream has resume: none' };
      const r = await whole(ctx, 'resume-after-end');
      const last = frames(r.seen).at(-1);
      if (!last || last.type !== stream.terminal) return { skipped: 'the stream did not end with its terminal message (see the termination check)' };
      const again = await record(stream, fixture, ctx.baseUrl, { resumeFrom: last.id, timeoutMs: 5_000 });
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
      const full = await whole(ctx, 'resume');
      const total = frames(full.seen).length;
      if (total < 3) return { skipped: `the stream has ${total} messages; a resume needs at least 3` };
      const k = Math.min(2, total - 2);
      const first = await whole(ctx, 'resume', { until: (s) => frames(s).length >= k });
      const from = frames(first.seen)[k - 1]!;
      const rest = await record(stream, fixture, ctx.baseUrl, { resumeFrom: from.id, timeoutMs: ctx.timeoutMs });
      if (rest.status !== 200) fail('resume', `a resume from ${from.id} (message ${k}) was answered ${rest.status} ${describeBody(rest.body)}`);
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
      const r = await record(stream, fixture, ctx.baseUrl, { resumeFrom: id, timeoutMs: 5_000 });
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
      const r = await whole(ctx, 'loss');
      const dropped = frames(r.seen).reduce((n, f) => n + f.dropped, 0);
      if (!stream.lossy && dropped) fail('loss', `the server reported ${dropped} dropped messages, but the stream is not lossy (backpressure ${stream.backpressure.kind})`);
      return ok;
    },
  };

  const invalid: Check = {
    name: 'invalid-request',
    title: 'an invalid request is refused before the stream starts',
    async run(ctx) {
      const bad = invalidInput(stream, fixture);
      if (!bad) return { skipped: 'no params or request of this stream can be made invalid' };
      const r = await record(stream, fixture, ctx.baseUrl, { input: bad, timeoutMs: 5_000 });
      const code = (r.body as { code?: unknown } | undefined)?.code;
      if (r.status !== 400 || code !== 'INVALID_REQUEST')
        fail('invalid-request', `a request with ${bad.why} was answered ${r.status}${frames(r.seen).length ? ` with ${frames(r.seen).length} messages` : ` ${describeBody(r.body)}`}, expected 400 INVALID_REQUEST`);
      return ok;
    },
  };

  const slowConsumer: Check = {
    name: 'slow-consumer',
    title: `a slow consumer holds the producer back (${stream.backpressure.kind}, buffer ${stream.backpressure.buffer})`,
    async run(ctx) {
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

  const abandoned: Check = {
    name: 'abandoned-consumer',
    title: "the handler stops when the consumer goes away",
    async run(ctx) {
      // Asked while still connected: once the consumer has left, a stopped handler is the point.
      let f: Extract<Seen, { kind: 'frame' }> | undefined;
      let first: InstanceReport | undefined;
      await whole(ctx, 'abandoned-consumer', {
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
  const values = ['!', '-1', '1.5', 'not-a-valid-value', 'x'.repeat(4096)];
  for (const key of Object.keys(fixture.params))
    for (const v of values) {
      const params = { ...fixture.params, [key]: v };
      if (stream.validateParams(params).length) return { ...fixture, params, why: `params.${key} = ${JSON.stringify(v.slice(0, 20))}` };
    }
  if (!stream.hasRequest) return undefined;
  if (stream.method === 'POST') {
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
 * stream's entry of the JSON file named by STREAMSPEC_FIXTURES over them, when set.
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
  const mine = given[stream.name];
  return mine ? { params: { ...base.params, ...mine.params }, ...('request' in mine ? { request: mine.request } : 'request' in base ? { request: base.request } : {}) } : base;
}

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
  const res = await fetch(`${baseUrl.replace(/\/+$/, '')}${CONTROL_PATH}/instances/${encodeURIComponent(streamId)}`).catch(() => undefined);
  if (!res || res.status !== 200) {
    await res?.body?.cancel();
    return undefined;
  }
  return (await res.json()) as InstanceReport;
}

function describeBody(body: unknown): string {
  if (body === undefined) return '(no body)';
  const code = (body as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : JSON.stringify(body).slice(0, 120);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
