// The HTTP side of SSE and NDJSON streams: routing, request checks, resume, and the run of one
// handler behind a response. The generated `server.ts` describes each stream with a
// StreamDescriptor and calls createHttpRouter; the wire protocol is docs/http-streaming.md.

import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  checkMessage,
  compilePath,
  decodeParams,
  errorData,
  frameId,
  issueText,
  put,
  startHandler,
  type BaseHandlerContext,
  type CommonRouterOptions,
  type FrameEncoder,
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
import { fetchExchange, nodeExchange, type Exchange } from './http-exchange.js';
import { createControl, createHeldCounter } from './control.js';
import { createInstanceRegistry, lookupResume, openInstance, type StreamInstance } from './instance-registry.js';
import { NDJSON_HEADERS, ndjsonEncoder } from './ndjson-writer.js';
import { SSE_HEADERS, sseEncoder } from './sse-writer.js';
import { pump, quietTimer, type PumpEnd } from './stream-pump.js';
import type { Issue } from './validation.js';

export { StreamError } from './errors.js';
export type { AuthMode, AuthRequest, Authenticate } from './auth.js';
export { ContractViolation, type Message } from './frames.js';

export type Transport = 'sse' | 'ndjson';
export type QueryType = 'string' | 'number' | 'integer' | 'boolean' | 'string[]' | 'number[]' | 'integer[]' | 'boolean[]';

export interface StreamDescriptor extends StreamShape {
  /** GET: the request (if any) from the query string; POST: a JSON body. */
  readonly method: 'GET' | 'POST';
  /** How to parse each query parameter of a flat request. */
  readonly query?: Readonly<Record<string, QueryType>>;
  readonly errors: { readonly mode: 'fail-fast' | 'in-band'; readonly message?: string; readonly codes: readonly string[] };
  readonly backpressure: {
    readonly kind: 'pull' | 'block' | 'drop-oldest' | 'drop-newest' | 'sample';
    readonly buffer: number;
    readonly intervalMs?: number;
  };
  /** The contract's `auth`; absent: required when the router has an `authenticate` hook. */
  readonly auth?: AuthMode;
}

/** `headers`: the request's. */
export type HandlerContext = BaseHandlerContext;

export type StreamHandler = (ctx: HandlerContext) => AsyncIterator<{ type: string; data: unknown }, { type: string; data: unknown } | void>;

/**
 * `authenticate` runs before a stream opens and again on every resume; `principalId` and
 * `maxStreamsPerPrincipal` are documented in auth.ts.
 */
export interface RouterOptions<P = unknown> extends AuthOptions<P>, CommonRouterOptions {
  /** The SSE `retry:` value in ms (default 250: a dropped client is back within a quarter second). */
  readonly retryMs?: number;
  /** Largest POST body in bytes (default 1 MiB); larger: 413. */
  readonly maxBodyBytes?: number;
}

export interface HttpRouter {
  /** A node:http request listener (Express and Fastify can mount it too). */
  node(req: IncomingMessage, res: ServerResponse): void;
  /** A fetch handler (Hono, Bun, Deno); `info.remoteAddress` reaches `authenticate` when given. */
  fetch(req: Request, info?: { readonly remoteAddress?: string }): Promise<Response>;
  /** Aborts running handlers and clears timers; later requests get 503. */
  close(): void;
}

const DEFAULT_MAX_BODY = 1024 * 1024;

interface Route extends PathMatcher {
  readonly descriptor: StreamDescriptor;
  readonly handler: StreamHandler;
}

const compile = (descriptor: StreamDescriptor, handler: StreamHandler): Route => ({ descriptor, handler, ...compilePath(descriptor.path) });

function scalar(raw: string, type: string): unknown {
  switch (type) {
    case 'number':
    case 'integer': {
      // A value that does not parse stays a string, so the validator names the field.
      const n = Number(raw);
      return raw.trim() !== '' && Number.isFinite(n) ? n : raw;
    }
    case 'boolean':
      return raw === 'true' ? true : raw === 'false' ? false : raw;
    default:
      return raw;
  }
}

/** A flat request from the query string: arrays as repeated keys, scalars parsed per the schema. */
export function parseQuery(
  search: URLSearchParams,
  types: Readonly<Record<string, QueryType>> | undefined,
  reserved: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of new Set(search.keys())) {
    if (key === reserved) continue;
    const values = search.getAll(key);
    const type = types && Object.prototype.hasOwnProperty.call(types, key) ? types[key]! : 'string';
    if (type.endsWith('[]'))
      put(
        out,
        key,
        values.map((v) => scalar(v, type.slice(0, -2))),
      );
    // A scalar given twice stays an array, so the validator reports it instead of one value winning.
    else put(out, key, values.length === 1 ? scalar(values[0]!, type) : values.map((v) => scalar(v, type)));
  }
  return out;
}

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' };

interface Transport_ {
  readonly encoder: FrameEncoder;
  readonly headers: Readonly<Record<string, string>>;
  readonly resumeHeader: string;
  readonly resumeQuery: string;
}

const TRANSPORTS: Record<Transport, Transport_> = {
  sse: { encoder: sseEncoder, headers: SSE_HEADERS, resumeHeader: 'last-event-id', resumeQuery: 'lastEventId' },
  ndjson: { encoder: ndjsonEncoder, headers: NDJSON_HEADERS, resumeHeader: 'streamspec-resume', resumeQuery: 'resume' },
};

export function createHttpRouter<P = unknown>(
  transport: Transport,
  routes: readonly (readonly [StreamDescriptor, StreamHandler])[],
  options: RouterOptions<P> = {},
): HttpRouter {
  checkAuthSetup(
    routes.map(([d]) => d),
    options as AuthOptions<unknown>,
  );
  const wire = TRANSPORTS[transport];
  const compiled = routes.map(([d, h]) => compile(d, h));
  const onError = options.onError ?? ((error: unknown, stream: string) => console.error(`streamspec: stream ${stream}:`, error));
  const report = (error: unknown, stream: string) => {
    try {
      onError(error, stream);
    } catch {
      // A failing error reporter must not take the server down either.
    }
  };
  const validateOutput = options.validateOutput ?? true;
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const retryMs = options.retryMs ?? 250;
  const now = options.now ?? Date.now;
  const registry = createInstanceRegistry({ maxInstances: options.maxInstances ?? 10000, now });
  const running = new Set<AbortController>();
  const control = options.conformanceControl ? createControl() : undefined;
  const maxStreams = options.maxStreamsPerPrincipal ?? DEFAULT_MAX_STREAMS_PER_PRINCIPAL;
  const limiter = createStreamLimiter(maxStreams);
  let closed = false;

  const cors = options.cors;
  const corsHeaders = (origin: string | null): Record<string, string> => {
    if (!cors) return {};
    const anyOrigin = cors.origin === '*';
    // The answer depends on Origin unless it is a plain `*`: caches must keep them apart.
    const h: Record<string, string> = anyOrigin && !cors.credentials ? {} : { vary: 'Origin' };
    if (origin === null || !(anyOrigin || cors.origin.includes(origin))) return h;
    h['access-control-allow-origin'] = anyOrigin && !cors.credentials ? '*' : origin;
    if (cors.credentials) h['access-control-allow-credentials'] = 'true';
    return h;
  };

  const fail = (ex: Exchange, status: number, code: string, message: string, extra: Record<string, string> = {}, issues?: Issue[]) =>
    ex.reply(
      status,
      { ...JSON_HEADERS, ...corsHeaders(ex.headers.get('origin')), ...extra },
      JSON.stringify(issues ? { code, message, issues } : { code, message }),
    );

  async function handle(ex: Exchange): Promise<void> {
    if (closed) return fail(ex, 503, 'UNAVAILABLE', 'the server is shutting down');
    const path = ex.url.pathname;
    const told = ex.method === 'GET' ? control?.answer(path) : undefined;
    if (told) return ex.reply(told.status, JSON_HEADERS, JSON.stringify(told.body));
    const matches = compiled.map((route) => ({ route, m: route.pattern.exec(path) })).filter((x) => x.m !== null);
    if (matches.length === 0) return fail(ex, 404, 'NOT_FOUND', `no stream at ${path}`);
    const methods = [...new Set(matches.map((x) => x.route.descriptor.method))];
    const allow = [...methods, 'OPTIONS'].join(', ');

    if (ex.method === 'OPTIONS') {
      const h: Record<string, string> = { allow, ...corsHeaders(ex.headers.get('origin')) };
      if (h['access-control-allow-origin'] !== undefined) {
        h['access-control-allow-methods'] = methods.join(', ');
        const asked = ex.headers.get('access-control-request-headers');
        if (asked) h['access-control-allow-headers'] = asked;
        h['access-control-max-age'] = '600';
      }
      return ex.reply(204, h);
    }
    const match = matches.find((x) => x.route.descriptor.method === ex.method);
    if (!match) return fail(ex, 405, 'METHOD_NOT_ALLOWED', `${ex.method} is not allowed here; use ${methods.join(' or ')}`, { allow });
    const { route, m } = match;
    const d = route.descriptor;

    // Before the body is read or anything is validated: an unknown caller learns nothing more.
    const resumeId = ex.headers.get(wire.resumeHeader) || ex.url.searchParams.get(wire.resumeQuery) || undefined;
    const who = await authenticate(d.auth, options, {
      stream: d.name,
      headers: ex.headers,
      cookies: parseCookies(ex.headers.get('cookie')),
      query: ex.url.searchParams,
      remoteAddress: ex.remoteAddress,
      resumeFrom: resumeId,
    });
    if (who.kind === 'denied') return fail(ex, who.code === 'UNAUTHENTICATED' ? 401 : 403, who.code, who.message);

    const issues: Issue[] = [];
    const params = decodeParams(route, m!, issues);
    if (issues.length === 0) issues.push(...d.validateParams(params));

    let request: unknown;
    if (d.validateRequest) {
      if (d.method === 'GET') request = parseQuery(ex.url.searchParams, d.query, wire.resumeQuery);
      else {
        const type = ex.headers.get('content-type') ?? '';
        // Only JSON: a cross-site form cannot send it without a CORS preflight.
        if (!/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type))
          return fail(ex, 415, 'UNSUPPORTED_MEDIA_TYPE', 'the request body must be application/json');
        const body = await ex.readBody(maxBody);
        if (body.kind === 'gone') return;
        if (body.kind === 'too-large')
          return fail(ex, 413, 'PAYLOAD_TOO_LARGE', `the request body is larger than ${maxBody} bytes`, { connection: 'close' });
        try {
          request = JSON.parse(body.text);
        } catch (e) {
          issues.push({ path: 'request', message: `invalid JSON: ${(e as Error).message}` });
        }
      }
      if (!issues.some((i) => i.path === 'request')) issues.push(...d.validateRequest(request));
    }
    if (issues.length > 0) {
      return fail(ex, 400, 'INVALID_REQUEST', issueText(issues), {}, issues);
    }

    const tooMany = () =>
      fail(ex, 429, 'RESOURCE_EXHAUSTED', `at most ${maxStreams} streams may be open at once for one principal`);
    let instance: StreamInstance;
    let replay: readonly string[] = [];
    if (resumeId !== undefined) {
      const found = lookupResume(registry, resumeId, d.name, who.id);
      if (found.kind === 'expired') return fail(ex, 410, 'RESUME_EXPIRED', found.message);
      if (found.kind === 'forbidden') return fail(ex, 403, 'PERMISSION_DENIED', found.message);
      if (found.kind === 'ended') return ex.reply(204, corsHeaders(ex.headers.get('origin')));
      instance = found.instance;
      replay = found.missed;
    } else {
      // Counted before the instance exists: a principal at its limit cannot churn the registry.
      if (who.id !== undefined && limiter.count(who.id) >= maxStreams) return tooMany();
      instance = openInstance(registry, d.name, d.resume, who.id);
    }
    // A resume of an instance the principal already holds takes its slot over, so it never counts twice.
    const release = instance.ended ? () => {} : limiter.acquire(who.id, instance.streamId);
    if (!release) return tooMany();
    // The earlier connection may be half-open and still running; this one takes over.
    if (resumeId !== undefined) instance.live?.abort();

    try {
      const sink = ex.open({ ...wire.headers, ...corsHeaders(ex.headers.get('origin')) });
      const opening = (transport === 'sse' ? wire.encoder.preamble(retryMs) : '') + replay.join('');
      if (opening) sink.write(opening);
      if (instance.ended) return sink.end();
      await run(ex, route, instance, sink, params, request, resumeId !== undefined, who.principal);
    } finally {
      release();
    }
  }

  async function run(
    ex: Exchange,
    route: Route,
    instance: StreamInstance,
    sink: ReturnType<Exchange['open']>,
    params: unknown,
    request: unknown,
    resumed: boolean,
    principal: unknown,
  ): Promise<void> {
    const d = route.descriptor;
    const controller = new AbortController();
    const stop = () => controller.abort();
    if (ex.signal.aborted) stop();
    else ex.signal.addEventListener('abort', stop, { once: true });
    running.add(controller);
    instance.live = controller;

    const heartbeat = quietTimer(d.heartbeatMs, () => sink.write(wire.encoder.heartbeat()));
    const counted = {
      write: (chunk: string) => {
        heartbeat.touch();
        registry.touch(instance);
        const accepted = sink.write(chunk);
        // The pump's joined batch: the replay buffer stores its frames from it instead of joining them again.
        instance.replay.written(chunk);
        // Counted here, not by the pump: frames handed over while the transport was full.
        held?.wrote(1, accepted);
        return accepted;
      },
      drained: () => sink.drained(),
    };

    const check = (m: unknown, terminal: boolean): Message => checkMessage(d, m, terminal, validateOutput);
    const frame = (m: Message, dropped: number): string => {
      const seq = instance.replay.lastSeq + 1;
      const chunk = wire.encoder.frame({ seq, id: frameId(instance.streamId, seq), type: m.type, data: m.data, dropped });
      instance.replay.append(chunk);
      return chunk;
    };

    const stats = control?.stats(instance.streamId, d.name);
    const held = stats && createHeldCounter(stats, () => sink.drained());
    let end: PumpEnd;
    try {
      const started = startHandler(d, route.handler, {
        params,
        request,
        signal: controller.signal,
        resumeFrom: resumed ? instance.replay.lastSeq : undefined,
        headers: ex.headers,
        principal,
      });
      const source = stats ? control!.track(started, stats) : started;
      end = await pump(source, counted, {
        backpressure: d.backpressure,
        signal: controller.signal,
        encode: (m, dropped) => frame(check(m, false), dropped),
        onError: (e) => report(e, d.name),
        ...(held ? { stats: held.pump } : {}),
      });
      if (end.kind === 'aborted') return;
      let last: string;
      if (end.kind === 'done') {
        try {
          last = frame(check(end.value ?? { type: d.terminal, data: null }, true), end.dropped);
        } catch (error) {
          last = frame(errorMessage(error, d), 0);
        }
      } else last = frame(errorMessage(end.error, d), end.dropped);
      instance.ended = true;
      counted.write(last);
    } finally {
      // Also on an unexpected throw: the response must never stay open with nobody writing.
      sink.end();
      heartbeat.stop();
      ex.signal.removeEventListener('abort', stop);
      running.delete(controller);
      if (instance.live === controller) instance.live = undefined;
      registry.touch(instance);
    }

    function errorMessage(error: unknown, desc: StreamDescriptor): Message {
      return { type: '$error', data: errorData(error, desc.errors.codes, (e) => report(e, desc.name)) };
    }
  }

  const guard = (ex: Exchange, p: Promise<void>) =>
    p.catch((error: unknown) => {
      report(error, '(router)');
      try {
        fail(ex, 500, 'INTERNAL', 'internal error');
      } catch {
        // Headers were already sent; the stream just ends.
      }
    });

  return {
    node(req, res) {
      const ex = nodeExchange(req, res);
      void guard(ex, handle(ex));
    },
    fetch(req, info) {
      const { exchange, response } = fetchExchange(req, info?.remoteAddress);
      void guard(exchange, handle(exchange));
      return response;
    },
    close() {
      closed = true;
      for (const c of running) c.abort();
      running.clear();
      registry.clear();
    },
  };
}
