import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { afterEach, describe, expect, it } from 'vitest';
import { StreamError } from './errors.ts';
import {
  ContractViolation,
  createHttpRouter,
  parseQuery,
  type AuthRequest,
  type HandlerContext,
  type HttpRouter,
  type RouterOptions,
  type StreamDescriptor,
  type StreamHandler,
  type Transport,
} from './http-router.ts';
import type { Issue } from './validation.ts';

// ---------------------------------------------------------------------------------------------
// A small contract: GET /v1/c/{id}/completion?prompt=&n=&tags= and POST /v1/c/{id}/upload.

const validateParams = (v: unknown): Issue[] => {
  const id = (v as { id?: unknown }).id;
  return typeof id === 'string' && /^[a-z0-9-]+$/.test(id) ? [] : [{ path: 'params.id', message: 'must match ^[a-z0-9-]+$' }];
};
const validateRequest = (v: unknown): Issue[] => {
  const out: Issue[] = [];
  const r = v as Record<string, unknown>;
  if (typeof r !== 'object' || r === null) return [{ path: 'request', message: 'expected an object' }];
  if (typeof r.prompt !== 'string') out.push({ path: 'request.prompt', message: `expected a string, got ${typeof r.prompt}` });
  if (r.n !== undefined && !Number.isInteger(r.n)) out.push({ path: 'request.n', message: `expected an integer, got ${typeof r.n}` });
  return out;
};
const validateMessage = (m: unknown): Issue[] => {
  const { type, data } = m as { type: string; data: unknown };
  if (type === 'token')
    return typeof (data as { text?: unknown })?.text === 'string' ? [] : [{ path: 'data.text', message: 'expected a string' }];
  if (type === 'done' || type === 'problem') return [];
  return [{ path: 'type', message: `unknown message type ${JSON.stringify(type)}` }];
};

const completion: StreamDescriptor = {
  name: 'completion',
  path: ['/v1/c/', { param: 'id' }, '/completion'],
  method: 'GET',
  query: { prompt: 'string', n: 'integer', tags: 'string[]' },
  validateParams,
  validateRequest,
  validateMessage,
  terminal: 'done',
  errors: { mode: 'fail-fast', codes: ['RATE_LIMITED', 'INTERNAL', 'INVALID_REQUEST', 'RESUME_EXPIRED'] },
  backpressure: { kind: 'pull', buffer: 8 },
  resume: { messages: 100, seconds: 60 },
  heartbeatMs: 10_000,
};
const upload: StreamDescriptor = {
  ...completion,
  name: 'upload',
  path: ['/v1/c/', { param: 'id' }, '/upload'],
  method: 'POST',
  query: undefined,
};

const token = (text: string) => ({ type: 'token', data: { text } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const until = async (cond: () => boolean, ms = 1000) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(5);
  return cond();
};

/** Yields `texts` as tokens, then returns done; records every context it was called with. */
function scripted(texts: string[], calls: HandlerContext[] = []): StreamHandler {
  return async function* (ctx) {
    calls.push(ctx);
    for (const t of texts) yield token(t);
    return { type: 'done', data: { n: texts.length } };
  };
}

// ---------------------------------------------------------------------------------------------
// The two ways in: node:http on 127.0.0.1 with plain fetch as the client, and the fetch adapter.

interface Harness {
  call(path: string, init?: RequestInit): Promise<Response>;
}
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function overNode(router: HttpRouter): Promise<Harness & { base: string }> {
  const server = http.createServer((req, res) => router.node(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { base, call: (path, init) => fetch(base + path, init) };
}
async function overFetch(router: HttpRouter): Promise<Harness> {
  return { call: (path, init) => router.fetch(new Request(`http://test.local${path}`, init)) };
}
const adapters = [
  ['node:http', overNode],
  ['fetch adapter', overFetch],
] as const;

function makeRouter(transport: Transport, routes: [StreamDescriptor, StreamHandler][], options: RouterOptions = {}) {
  const errors: { error: unknown; stream: string }[] = [];
  const router = createHttpRouter(transport, routes, { onError: (error, stream) => errors.push({ error, stream }), ...options });
  cleanups.push(() => router.close());
  return { router, errors };
}

function parseSse(text: string): EventSourceMessage[] {
  const out: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (e) => out.push(e) });
  parser.feed(text);
  return out;
}

/** Reads a response body until `done(text)`; then aborts the request. */
async function readUntil(res: Response, done: (text: string) => boolean, abort: AbortController): Promise<string> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const deadline = Date.now() + 2000;
  while (!done(text) && Date.now() < deadline) {
    const { value, done: end } = await reader.read();
    if (end) break;
    text += decoder.decode(value, { stream: true });
  }
  abort.abort();
  await reader.cancel().catch(() => {});
  return text;
}

// ---------------------------------------------------------------------------------------------

describe('parseQuery', () => {
  it.each([
    ['scalars parsed per type', { given: 'prompt=hi&n=3&flag=true', want: { prompt: 'hi', n: 3, flag: true } }],
    ['arrays as repeated keys', { given: 'tags=a&tags=b&ns=1&ns=2', want: { tags: ['a', 'b'], ns: [1, 2] } }],
    ['one value for an array', { given: 'tags=a', want: { tags: ['a'] } }],
    ['unparsable stays a string for the validator', { given: 'n=abc&flag=yes&x=', want: { n: 'abc', flag: 'yes', x: '' } }],
    ['empty number stays a string', { given: 'n=', want: { n: '' } }],
    ['a repeated scalar stays an array', { given: 'n=1&n=2', want: { n: [1, 2] } }],
    ['the resume key is not part of the request', { given: 'prompt=a&lastEventId=x.1', want: { prompt: 'a' } }],
    ['unknown keys as strings', { given: 'other=1', want: { other: '1' } }],
  ])('%s', (_, { given, want }) => {
    const types = { prompt: 'string', n: 'integer', flag: 'boolean', tags: 'string[]', ns: 'number[]' } as const;
    expect(parseQuery(new URLSearchParams(given), types, 'lastEventId')).toEqual(want);
  });

  it('keeps __proto__ as an own property', () => {
    const q = parseQuery(new URLSearchParams('__proto__=x'), undefined, 'resume');
    expect(Object.getPrototypeOf(q)).toBe(Object.prototype);
    expect(Object.keys(q)).toEqual(['__proto__']);
  });
});

describe.each(adapters)('over %s', (_, open) => {
  describe('answers before any frame', () => {
    const routes = (): [StreamDescriptor, StreamHandler][] => [
      [completion, scripted(['a'])],
      [upload, scripted(['a'])],
    ];

    it.each([
      ['unknown path', { path: '/v1/nothing', init: {}, want: { status: 404, code: 'NOT_FOUND' } }],
      ['path prefix only', { path: '/v1/c/x', init: {}, want: { status: 404, code: 'NOT_FOUND' } }],
      [
        'wrong method',
        { path: '/v1/c/x/completion', init: { method: 'POST' }, want: { status: 405, code: 'METHOD_NOT_ALLOWED', allow: 'GET, OPTIONS' } },
      ],
      [
        'GET on a POST stream',
        { path: '/v1/c/x/upload', init: {}, want: { status: 405, code: 'METHOD_NOT_ALLOWED', allow: 'POST, OPTIONS' } },
      ],
      [
        'non-JSON body',
        {
          path: '/v1/c/x/upload',
          init: { method: 'POST', body: 'prompt=x', headers: { 'content-type': 'text/plain' } },
          want: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
        },
      ],
    ])('%s', async (_, { path, init, want }) => {
      const h = await open(makeRouter('sse', routes()).router);
      const res = await h.call(path, init);
      expect(res.status).toBe(want.status);
      expect(res.headers.get('content-type')).toBe('application/json');
      if ('allow' in want) expect(res.headers.get('allow')).toBe(want.allow);
      expect(await res.json()).toMatchObject({ code: want.code });
    });

    it.each([
      [
        'a bad path parameter',
        { path: '/v1/c/UPPER/completion?prompt=hi', want: [{ path: 'params.id', message: 'must match ^[a-z0-9-]+$' }] },
      ],
      [
        'a bad percent-encoding',
        { path: '/v1/c/%E0%A4%A/completion?prompt=hi', want: [{ path: 'params.id', message: 'invalid percent-encoding' }] },
      ],
      [
        'a missing request field',
        { path: '/v1/c/x/completion', want: [{ path: 'request.prompt', message: 'expected a string, got undefined' }] },
      ],
      [
        'a query value of the wrong type',
        { path: '/v1/c/x/completion?prompt=hi&n=abc', want: [{ path: 'request.n', message: 'expected an integer, got string' }] },
      ],
    ])('400 naming the field: %s', async (_, { path, want }) => {
      const { router } = makeRouter('sse', routes());
      const h = await open(router);
      const res = await h.call(path);
      expect(res.status).toBe(400);
      const body = await res.json();
      expect(body).toEqual({ code: 'INVALID_REQUEST', message: want.map((i) => `${i.path}: ${i.message}`).join('; '), issues: want });
    });

    it('400 for a body that is not JSON, naming the request', async () => {
      const h = await open(makeRouter('sse', routes()).router);
      const res = await h.call('/v1/c/x/upload', { method: 'POST', body: '{"prompt":', headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(400);
      const body = await res.json();
      expect(body.issues).toHaveLength(1);
      expect(body.issues[0].path).toBe('request');
      expect(body.issues[0].message).toMatch(/^invalid JSON/);
    });

    it('413 for a body over 1 MiB, and the request body reaches the handler when it fits', async () => {
      const calls: HandlerContext[] = [];
      const h = await open(makeRouter('sse', [[upload, scripted(['a'], calls)]]).router);
      const big = JSON.stringify({ prompt: 'x'.repeat(1024 * 1024) });
      const res = await h.call('/v1/c/x/upload', { method: 'POST', body: big, headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(413);
      expect(await res.json()).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
      const ok = await h.call('/v1/c/x/upload', {
        method: 'POST',
        body: '{"prompt":"hello","n":2}',
        headers: { 'content-type': 'application/json; charset=utf-8' },
      });
      expect(ok.status).toBe(200);
      await ok.text();
      expect(calls.map((c) => [c.params, c.request])).toEqual([[{ id: 'x' }, { prompt: 'hello', n: 2 }]]);
    });

    it.each([
      ['allowed origin', { cors: { origin: ['https://app.example'] }, origin: 'https://app.example', want: 'https://app.example' }],
      ['any origin', { cors: { origin: '*' as const }, origin: 'https://other.example', want: '*' }],
      [
        'any origin with credentials echoes it',
        { cors: { origin: '*' as const, credentials: true }, origin: 'https://o.example', want: 'https://o.example' },
      ],
      ['other origin', { cors: { origin: ['https://app.example'] }, origin: 'https://evil.example', want: null }],
      ['no cors option', { cors: undefined, origin: 'https://app.example', want: null }],
    ])('CORS: %s', async (_, { cors, origin, want }) => {
      const h = await open(makeRouter('sse', routes(), cors ? { cors } : {}).router);
      const pre = await h.call('/v1/c/x/completion', {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'last-event-id, authorization' },
      });
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-origin')).toBe(want);
      if (want) {
        expect(pre.headers.get('access-control-allow-methods')).toBe('GET');
        expect(pre.headers.get('access-control-allow-headers')).toBe('last-event-id, authorization');
      }
      const res = await h.call('/v1/c/x/completion?prompt=a', { headers: { origin } });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe(want);
      expect(res.headers.get('access-control-allow-credentials')).toBe(cors && 'credentials' in cors && want ? 'true' : null);
      await res.text();
      const notFound = await h.call('/v1/nothing', { headers: { origin } });
      expect(notFound.headers.get('access-control-allow-origin')).toBe(want);
    });
  });

  describe('SSE', () => {
    it('writes retry, numbered frames and the terminal, with the right headers, then ends', async () => {
      const calls: HandlerContext[] = [];
      const h = await open(makeRouter('sse', [[completion, scripted(['Hel', 'lo'], calls)]], { retryMs: 250 }).router);
      const res = await h.call('/v1/c/conv-1/completion?prompt=hi&n=3&tags=a&tags=b');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/event-stream');
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('x-accel-buffering')).toBe('no');
      const text = await res.text();
      const sid = /^id: ([A-Za-z0-9_-]{22})\.1$/m.exec(text)![1];
      expect(text).toBe(
        'retry: 250\n\n' +
          `id: ${sid}.1\nevent: token\ndata: {"text":"Hel"}\n\n` +
          `id: ${sid}.2\nevent: token\ndata: {"text":"lo"}\n\n` +
          `id: ${sid}.3\nevent: done\ndata: {"n":2}\n\n`,
      );
      expect(calls).toHaveLength(1);
      expect(calls[0]!.params).toEqual({ id: 'conv-1' });
      expect(calls[0]!.request).toEqual({ prompt: 'hi', n: 3, tags: ['a', 'b'] });
      expect(calls[0]!.resumeFrom).toBeUndefined();
    });

    it('a handler that returns nothing ends with a null terminal payload', async () => {
      const h = await open(
        makeRouter('sse', [
          [
            completion,
            async function* () {
              yield token('a');
            },
          ],
        ]).router,
      );
      const events = parseSse(await (await h.call('/v1/c/x/completion?prompt=a')).text());
      expect(events.map((e) => [e.event, e.data])).toEqual([
        ['token', '{"text":"a"}'],
        ['done', 'null'],
      ]);
    });

    it('sends heartbeat comments while quiet', async () => {
      const h = await open(
        makeRouter('sse', [
          [
            { ...completion, heartbeatMs: 20 },
            async function* () {
              yield token('a');
              await sleep(110);
              return { type: 'done', data: null };
            },
          ],
        ]).router,
      );
      const text = await (await h.call('/v1/c/x/completion?prompt=a')).text();
      const beats = text.split(': hb\n\n').length - 1;
      expect(beats).toBeGreaterThanOrEqual(2);
      expect(beats).toBeLessThanOrEqual(6);
      expect(text.indexOf(': hb')).toBeGreaterThan(text.indexOf('event: token'));
      expect(text.endsWith('event: done\ndata: null\n\n')).toBe(true);
    });

    it('fail-fast: a StreamError becomes a $error frame with its code, then the response ends', async () => {
      const { router, errors } = makeRouter('sse', [
        [
          completion,
          async function* () {
            yield token('a');
            throw new StreamError('RATE_LIMITED', 'slow down', { retryable: true });
          },
        ],
      ]);
      const h = await open(router);
      const events = parseSse(await (await h.call('/v1/c/x/completion?prompt=a')).text());
      expect(events.map((e) => [e.id?.split('.')[1], e.event, e.data])).toEqual([
        ['1', 'token', '{"text":"a"}'],
        ['2', '$error', '{"code":"RATE_LIMITED","message":"slow down","retryable":true}'],
      ]);
      expect(errors).toEqual([]);
    });

    it.each([
      [
        'a throw',
        async function* (): AsyncGenerator<{ type: string; data: unknown }> {
          yield token('a');
          throw new Error('database on fire');
        },
        Error,
      ],
      [
        'a throw before the first message',
        (() => {
          throw new Error('no generator at all');
        }) as StreamHandler,
        Error,
      ],
      [
        'a StreamError with a code the contract does not list',
        async function* (): AsyncGenerator<{ type: string; data: unknown }> {
          throw new StreamError('NOT_IN_CONTRACT', 'x');
        },
        StreamError,
      ],
      [
        'a message that breaks the contract',
        async function* (): AsyncGenerator<{ type: string; data: unknown }> {
          yield token('a');
          yield { type: 'token', data: { text: 42 } };
          yield token('never sent');
        },
        ContractViolation,
      ],
      [
        'a wrong terminal',
        async function* (): AsyncGenerator<{ type: string; data: unknown }, { type: string; data: unknown }> {
          return { type: 'token', data: { text: 'x' } };
        },
        ContractViolation,
      ],
      [
        'the terminal yielded instead of returned',
        async function* (): AsyncGenerator<{ type: string; data: unknown }> {
          yield { type: 'done', data: null };
        },
        ContractViolation,
      ],
    ])('INTERNAL, reported and not leaked, for %s', async (_, handler, errorClass) => {
      const { router, errors } = makeRouter('sse', [[completion, handler as StreamHandler]]);
      const h = await open(router);
      const events = parseSse(await (await h.call('/v1/c/x/completion?prompt=a')).text());
      const last = events.at(-1)!;
      expect(last.event).toBe('$error');
      expect(JSON.parse(last.data)).toEqual({ code: 'INTERNAL', message: 'internal error', retryable: false });
      expect(events.map((e) => Number(e.id!.split('.')[1]))).toEqual(events.map((_, i) => i + 1));
      expect(errors).toHaveLength(1);
      expect(errors[0]!.error).toBeInstanceOf(errorClass);
      expect(errors[0]!.stream).toBe('completion');
    });

    it('validateOutput false sends what the handler yields', async () => {
      const { router, errors } = makeRouter(
        'sse',
        [
          [
            completion,
            async function* () {
              yield { type: 'token', data: { text: 42 } };
              return { type: 'done', data: null };
            },
          ],
        ],
        { validateOutput: false },
      );
      const h = await open(router);
      const events = parseSse(await (await h.call('/v1/c/x/completion?prompt=a')).text());
      expect(events.map((e) => e.data)).toEqual(['{"text":42}', 'null']);
      expect(errors).toEqual([]);
    });

    it('resumes from Last-Event-ID: replays exactly the missing frames, then calls the handler with resumeFrom', async () => {
      const calls: HandlerContext[] = [];
      const handler: StreamHandler = async function* (ctx) {
        calls.push(ctx);
        if (ctx.resumeFrom === undefined) {
          for (const t of ['a', 'b', 'c', 'd', 'e']) yield token(t);
          await new Promise((r) => ctx.signal.addEventListener('abort', r));
          return;
        }
        yield token(`after ${ctx.resumeFrom}`);
        return { type: 'done', data: null };
      };
      const h = await open(makeRouter('sse', [[completion, handler]]).router);
      const ac = new AbortController();
      const first = await readUntil(await h.call('/v1/c/x/completion?prompt=a', { signal: ac.signal }), (t) => t.includes('"e"}\n\n'), ac);
      const sid = /^id: (\S+)\.1$/m.exec(first)![1]!;
      expect(await until(() => calls[0]!.signal.aborted)).toBe(true);

      const res = await h.call('/v1/c/x/completion?prompt=a', { headers: { 'last-event-id': `${sid}.2` } });
      expect(res.status).toBe(200);
      const text = await res.text();
      const frames = first.split('\n\n').filter((b) => b.startsWith('id: '));
      expect(text).toBe(
        'retry: 250\n\n' +
          frames
            .slice(2)
            .map((f) => `${f}\n\n`)
            .join('') +
          `id: ${sid}.6\nevent: token\ndata: {"text":"after 5"}\n\n` +
          `id: ${sid}.7\nevent: done\ndata: null\n\n`,
      );
      expect(calls.map((c) => c.resumeFrom)).toEqual([undefined, 5]);

      // The instance has ended: resuming from its last frame is 204, from before it replays and ends.
      const ended = await h.call(`/v1/c/x/completion?prompt=a&lastEventId=${sid}.7`);
      expect(ended.status).toBe(204);
      expect(await ended.text()).toBe('');
      const tail = await (await h.call('/v1/c/x/completion?prompt=a', { headers: { 'last-event-id': `${sid}.6` } })).text();
      expect(tail).toBe(`retry: 250\n\nid: ${sid}.7\nevent: done\ndata: null\n\n`);
      expect(calls).toHaveLength(2);
    });

    it.each([
      ['an unknown instance', { id: () => 'AAAAAAAAAAAAAAAAAAAAAA.1', status: 410 }],
      ['a position evicted from the replay buffer', { id: (sid: string) => `${sid}.1`, status: 410 }],
      ['a position never issued', { id: (sid: string) => `${sid}.9`, status: 410 }],
      ['an id the server could not have issued', { id: () => 'garbage', status: 410 }],
    ])('410 RESUME_EXPIRED for %s', async (_, { id, status }) => {
      const small = { ...completion, resume: { messages: 2 } };
      const h = await open(makeRouter('sse', [[small, scripted(['a', 'b', 'c', 'd'])]]).router);
      const text = await (await h.call('/v1/c/x/completion?prompt=a')).text();
      const sid = /^id: (\S+)\.1$/m.exec(text)![1]!;
      const res = await h.call('/v1/c/x/completion?prompt=a', { headers: { 'last-event-id': id(sid) } });
      expect(res.status).toBe(status);
      expect(await res.json()).toMatchObject({ code: 'RESUME_EXPIRED' });
    });

    it('410 for a stream without resume, and for an id of another stream', async () => {
      const other = { ...completion, name: 'other', path: ['/v1/other'], validateParams: () => [] };
      const noResume = { ...completion, name: 'plain', path: ['/v1/plain'], validateParams: () => [], resume: undefined };
      const h = await open(
        makeRouter('sse', [
          [completion, scripted(['a'])],
          [other, scripted(['a'])],
          [noResume, scripted(['a'])],
        ]).router,
      );
      for (const path of ['/v1/c/x/completion?prompt=a', '/v1/plain?prompt=a']) {
        const sid = /^id: (\S+)\.1$/m.exec(await (await h.call(path)).text())![1]!;
        const target = path.startsWith('/v1/c') ? '/v1/other?prompt=a' : path;
        expect((await h.call(target, { headers: { 'last-event-id': `${sid}.1` } })).status).toBe(410);
      }
    });

    it('forgets instances after their retention time', async () => {
      const clock = { t: 0 };
      const h = await open(makeRouter('sse', [[completion, scripted(['a', 'b'])]], { now: () => clock.t }).router);
      const sid = /^id: (\S+)\.1$/m.exec(await (await h.call('/v1/c/x/completion?prompt=a')).text())![1]!;
      clock.t = 59_000;
      const again = await h.call('/v1/c/x/completion?prompt=a', { headers: { 'last-event-id': `${sid}.1` } });
      expect(again.status).toBe(200);
      await again.text();
      clock.t = 60_000 + 59_000 + 1; // 60 s after the last activity (the replay above)
      expect((await h.call('/v1/c/x/completion?prompt=a', { headers: { 'last-event-id': `${sid}.1` } })).status).toBe(410);
    });

    it('bounds the number of retained instances', async () => {
      const h = await open(makeRouter('sse', [[completion, scripted(['a'])]], { maxInstances: 2 }).router);
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push(/^id: (\S+)\.1$/m.exec(await (await h.call('/v1/c/x/completion?prompt=a')).text())![1]!);
      const status = async (sid: string) => {
        const res = await h.call('/v1/c/x/completion?prompt=a', { headers: { 'last-event-id': `${sid}.1` } });
        await res.arrayBuffer();
        return res.status;
      };
      expect(await status(ids[0]!)).toBe(410);
      expect(await status(ids[2]!)).toBe(200);
    });
  });

  describe('NDJSON', () => {
    it('writes one numbered JSON line a message, the terminal last, and resumes from Streamspec-Resume', async () => {
      const calls: HandlerContext[] = [];
      const h = await open(makeRouter('ndjson', [[completion, scripted(['a', 'b'], calls)]]).router);
      const res = await h.call('/v1/c/x/completion?prompt=a');
      expect(res.headers.get('content-type')).toBe('application/x-ndjson');
      expect(res.headers.get('cache-control')).toBe('no-store');
      const text = await res.text();
      const lines = text.split('\n');
      expect(lines.pop()).toBe('');
      const frames = lines.map((l) => JSON.parse(l));
      const sid = frames[0].id.split('.')[0];
      expect(frames).toEqual([
        { seq: 1, id: `${sid}.1`, type: 'token', data: { text: 'a' } },
        { seq: 2, id: `${sid}.2`, type: 'token', data: { text: 'b' } },
        { seq: 3, id: `${sid}.3`, type: 'done', data: { n: 2 } },
      ]);
      const replay = await (await h.call('/v1/c/x/completion?prompt=a', { headers: { 'streamspec-resume': `${sid}.1` } })).text();
      expect(replay).toBe(lines.slice(1).join('\n') + '\n');
      expect((await h.call(`/v1/c/x/completion?prompt=a&resume=${sid}.3`)).status).toBe(204);
      expect(calls).toHaveLength(1);
    });

    it('sends heartbeat lines while quiet', async () => {
      const h = await open(
        makeRouter('ndjson', [
          [
            { ...completion, heartbeatMs: 20 },
            async function* () {
              await sleep(70);
              return { type: 'done', data: null };
            },
          ],
        ]).router,
      );
      const lines = (await (await h.call('/v1/c/x/completion?prompt=a')).text()).trim().split('\n');
      expect(lines.length).toBeGreaterThanOrEqual(2);
      expect(lines.slice(0, -1).every((l) => l === '{"type":"$heartbeat"}')).toBe(true);
      expect(JSON.parse(lines.at(-1)!)).toMatchObject({ seq: 1, type: 'done' });
    });
  });

  describe('abandoned consumer', () => {
    it.each([
      ['a handler waiting on its signal', 'signal'],
      ['a handler that ignores its signal', 'ignore'],
    ] as const)('aborts the signal and runs finally within 1 s: %s', async (_, style) => {
      const seen = { aborted: false, finallyAt: 0 };
      const handler: StreamHandler = async function* ({ signal }) {
        try {
          for (let i = 0; ; i++) {
            yield token(String(i));
            if (style === 'signal') await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
            else await sleep(10);
          }
        } finally {
          seen.aborted = signal.aborted;
          seen.finallyAt = Date.now();
        }
      };
      const { router } = makeRouter('sse', [[completion, handler]]);
      const h = await open(router);
      const ac = new AbortController();
      await readUntil(await h.call('/v1/c/x/completion?prompt=a', { signal: ac.signal }), (t) => t.includes('event: token'), ac);
      const goneAt = Date.now();
      expect(await until(() => seen.finallyAt > 0, 1000)).toBe(true);
      expect(seen.finallyAt - goneAt).toBeLessThan(1000);
      expect(seen.aborted).toBe(true);
    });
  });

  it('close() aborts running handlers and refuses new streams', async () => {
    const seen = { finally: false };
    const { router } = makeRouter('sse', [
      [
        completion,
        async function* ({ signal }) {
          try {
            yield token('a');
            await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
          } finally {
            seen.finally = true;
          }
        },
      ],
    ]);
    const h = await open(router);
    const res = await h.call('/v1/c/x/completion?prompt=a');
    const reading = res.text();
    await sleep(20);
    router.close();
    const text = await reading;
    expect(text).toContain('event: token');
    expect(text).not.toContain('event: done');
    expect(await until(() => seen.finally)).toBe(true);
    expect((await h.call('/v1/c/x/completion?prompt=a')).status).toBe(503);
  });
});

describe('node:http specifics', () => {
  it('a client that destroys its socket aborts the handler (http.request)', async () => {
    const seen = { finally: false, aborted: false };
    const { router } = makeRouter('ndjson', [
      [
        completion,
        async function* ({ signal }) {
          try {
            for (;;) {
              yield token('x');
              await sleep(5);
            }
          } finally {
            seen.finally = true;
            seen.aborted = signal.aborted;
          }
        },
      ],
    ]);
    const { base } = await overNode(router);
    await new Promise<void>((resolve, reject) => {
      const req = http.request(`${base}/v1/c/x/completion?prompt=a`, (res) => {
        expect(res.headers['content-type']).toBe('application/x-ndjson');
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => {});
      req.setTimeout(2000, () => reject(new Error('no data')));
      req.end();
    });
    expect(await until(() => seen.finally, 1000)).toBe(true);
    expect(seen.aborted).toBe(true);
  });

  it('pauses a pull producer while the client does not read', async () => {
    let produced = 0;
    const big = 'x'.repeat(16 * 1024);
    const { router } = makeRouter('ndjson', [
      [
        { ...completion, backpressure: { kind: 'pull', buffer: 4 } },
        async function* () {
          for (;;) {
            produced++;
            yield token(big);
          }
        },
      ],
    ]);
    const { base } = await overNode(router);
    const req = http.request(`${base}/v1/c/x/completion?prompt=a`, (res) => res.pause());
    req.on('error', () => {});
    req.end();
    cleanups.push(() => void req.destroy());
    await sleep(300);
    const paused = produced;
    await sleep(200);
    // Bounded by socket buffers plus `buffer` frames: it stopped, far short of running free.
    expect(produced).toBe(paused);
    expect(produced).toBeLessThan(2000);
  });
});

describe('fetch adapter specifics', () => {
  it('cancelling the response body aborts the handler', async () => {
    const seen = { finally: false, aborted: false };
    const { router } = makeRouter('sse', [
      [
        completion,
        async function* ({ signal }) {
          try {
            for (;;) {
              yield token('x');
              await sleep(5);
            }
          } finally {
            seen.finally = true;
            seen.aborted = signal.aborted;
          }
        },
      ],
    ]);
    const res = await router.fetch(new Request('http://test.local/v1/c/x/completion?prompt=a'));
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
    expect(await until(() => seen.finally, 1000)).toBe(true);
    expect(seen.aborted).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Authentication: the hook, its answers, resume bound to the principal, the per-principal limit.

describe('authentication', () => {
  interface User {
    readonly id: string;
    readonly name: string;
  }
  const USERS: Record<string, User> = { 'token-a': { id: 'a', name: 'Ada' }, 'token-b': { id: 'b', name: 'Bo' } };
  /** Bearer tokens from USERS; `token-x` is refused with 403; no header: undefined (401). */
  const authenticate = async (req: AuthRequest): Promise<User | undefined> => {
    const token = req.headers.get('authorization')?.replace(/^Bearer /, '') ?? req.cookies['session'];
    if (token === undefined) return undefined;
    if (token === 'token-x') throw new StreamError('PERMISSION_DENIED', 'suspended');
    const user = USERS[token];
    if (!user) throw new StreamError('UNAUTHENTICATED', 'unknown token');
    return user;
  };
  const as = (token: string, extra: Record<string, string> = {}) => ({ headers: { authorization: `Bearer ${token}`, ...extra } });
  const auth = (mode: StreamDescriptor['auth']): StreamDescriptor => (mode === undefined ? completion : { ...completion, auth: mode });

  /** A handler that yields one token, then waits until its client goes away. */
  function holding(calls: HandlerContext[] = []): StreamHandler {
    return async function* (ctx) {
      calls.push(ctx);
      yield token('held');
      await new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }));
      return { type: 'done', data: null };
    };
  }

  describe('createHttpRouter', () => {
    it('throws at once, naming every stream that says auth: required, when there is no hook', () => {
      const routes: [StreamDescriptor, StreamHandler][] = [
        [{ ...completion, auth: 'required' }, scripted([])],
        [{ ...upload, auth: 'required' }, scripted([])],
      ];
      expect(() => createHttpRouter('sse', routes)).toThrow(
        'streamspec: streams "completion", "upload" require authentication (auth: required in the contract), but createRouter was given no authenticate hook.',
      );
      expect(() => createHttpRouter('sse', routes.slice(0, 1))).toThrow(/^streamspec: stream "completion" requires authentication/);
    });

    it.each([['optional'], ['none'], [undefined]] as const)('serves auth: %s without a hook, with no principal', async (mode) => {
      const calls: HandlerContext[] = [];
      const h = await overNode(makeRouter('sse', [[auth(mode), scripted(['a'], calls)]]).router);
      const res = await h.call('/v1/c/x/completion?prompt=hi');
      expect(res.status).toBe(200);
      await res.text();
      expect(calls.map((c) => c.principal)).toEqual([undefined]);
    });

    it('the hook sees headers, cookies, query and the peer address (node:http; fetch when the server says it)', async () => {
      const asked: AuthRequest[] = [];
      const options: RouterOptions = { authenticate: (req) => (asked.push(req), { id: 'a' }) };
      const node = await overNode(makeRouter('sse', [[completion, scripted([])]], options).router);
      await (await node.call('/v1/c/x/completion?prompt=hi&token=q', { headers: { cookie: 'sid=a%20b; sid=second; flag' } })).text();
      const viaFetch = makeRouter('sse', [[completion, scripted([])]], options).router;
      await (await viaFetch.fetch(new Request('http://test.local/v1/c/x/completion?prompt=hi'), { remoteAddress: '203.0.113.7' })).text();
      expect(asked.map((r) => [r.stream, r.query.get('token'), { ...r.cookies }, r.remoteAddress])).toEqual([
        ['completion', 'q', { sid: 'a b' }, expect.stringMatching(/^(::ffff:)?127\.0\.0\.1$/)],
        ['completion', null, {}, '203.0.113.7'],
      ]);
    });
  });

  describe.each(adapters)('over %s', (_, open) => {
    describe.each(['sse', 'ndjson'] as const)('%s', (transport) => {
      it.each<[string, { mode: StreamDescriptor['auth']; init: RequestInit; want: { status: number; code?: string; principal?: unknown } }]>([
        ['required, no credentials', { mode: 'required', init: {}, want: { status: 401, code: 'UNAUTHENTICATED' } }],
        ['unsaid (the hook makes it required), no credentials', { mode: undefined, init: {}, want: { status: 401, code: 'UNAUTHENTICATED' } }],
        ['required, a token the hook does not know', { mode: 'required', init: as('nope'), want: { status: 401, code: 'UNAUTHENTICATED' } }],
        ['required, a principal the hook refuses', { mode: 'required', init: as('token-x'), want: { status: 403, code: 'PERMISSION_DENIED' } }],
        ['optional, a bad token is still refused', { mode: 'optional', init: as('nope'), want: { status: 401, code: 'UNAUTHENTICATED' } }],
        ['required, a good token', { mode: 'required', init: as('token-a'), want: { status: 200, principal: USERS['token-a'] } }],
        ['required, a session cookie', { mode: 'required', init: { headers: { cookie: 'theme=dark; session=token-b' } }, want: { status: 200, principal: USERS['token-b'] } }],
        ['optional, no credentials', { mode: 'optional', init: {}, want: { status: 200, principal: undefined } }],
        ['optional, a good token', { mode: 'optional', init: as('token-b'), want: { status: 200, principal: USERS['token-b'] } }],
        ['none: the hook is not asked', { mode: 'none', init: as('token-x'), want: { status: 200, principal: undefined } }],
      ])('%s', async (_name, { mode, init, want }) => {
        const calls: HandlerContext[] = [];
        const h = await open(makeRouter(transport, [[auth(mode), scripted(['a'], calls)]], { authenticate }).router);
        const res = await h.call('/v1/c/x/completion?prompt=hi', init);
        expect(res.status).toBe(want.status);
        if (want.code) {
          // Rejected before any frame: a JSON answer, and the handler never ran.
          expect(res.headers.get('content-type')).toBe('application/json');
          expect(await res.json()).toMatchObject({ code: want.code });
          expect(calls).toEqual([]);
        } else {
          expect(await res.text()).toMatch(/done/);
          expect(calls.map((c) => c.principal)).toEqual([want.principal]);
        }
      });

      it('authenticates before reading or validating the request: 401, not 400 or 413', async () => {
        const h = await open(makeRouter(transport, [[auth('required'), scripted([])], [upload, scripted([])]], { authenticate }).router);
        expect((await h.call('/v1/c/BAD/completion')).status).toBe(401);
        const big = JSON.stringify({ prompt: 'x'.repeat(1024 * 1024 + 1) });
        const res = await h.call('/v1/c/x/upload', { method: 'POST', body: big, headers: { 'content-type': 'application/json' } });
        expect(res.status).toBe(401);
        // With credentials, the limit on bodies still holds.
        const again = await h.call('/v1/c/x/upload', { method: 'POST', body: big, headers: { 'content-type': 'application/json', authorization: 'Bearer token-a' } });
        expect(again.status).toBe(413);
        expect(await again.json()).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
      });

      it('a hook that crashes is a server fault: 500 INTERNAL, reported, no detail', async () => {
        const { router, errors } = makeRouter(transport, [[completion, scripted([])]], {
          authenticate: () => {
            throw new Error('auth backend down');
          },
        });
        const h = await open(router);
        const res = await h.call('/v1/c/x/completion?prompt=hi', as('token-a'));
        expect(res.status).toBe(500);
        expect(await res.json()).toEqual({ code: 'INTERNAL', message: 'internal error' });
        expect(errors.map((e) => (e.error as Error).message)).toEqual(['auth backend down']);
      });

      it('a principal without an id needs principalId', async () => {
        const calls: HandlerContext[] = [];
        const nameOnly = async (req: AuthRequest) => (req.headers.has('authorization') ? { name: 'Ada' } : undefined);
        const bad = makeRouter(transport, [[completion, scripted([], calls)]], { authenticate: nameOnly });
        const res = await (await open(bad.router)).call('/v1/c/x/completion?prompt=hi', as('t'));
        expect(res.status).toBe(500);
        expect(String(bad.errors[0]?.error)).toMatch(/no string or number `id`; return \{ id, \.\.\. \} or pass a principalId\(p\) option/);
        const good = makeRouter(transport, [[completion, scripted([], calls)]], { authenticate: nameOnly, principalId: (p) => (p as { name: string }).name });
        const ok = await (await open(good.router)).call('/v1/c/x/completion?prompt=hi', as('t'));
        expect(ok.status).toBe(200);
        await ok.text();
        expect(calls.map((c) => c.principal)).toEqual([{ name: 'Ada' }]);
      });

      describe('resume is bound to the principal that opened the stream', () => {
        const resumeHeader = transport === 'sse' ? 'last-event-id' : 'streamspec-resume';
        /** Opens a stream as token-a, reads its first message and hangs up; returns that message's id. */
        async function firstId(h: Harness): Promise<string> {
          const ac = new AbortController();
          const text = await readUntil(await h.call('/v1/c/x/completion?prompt=hi', { ...as('token-a'), signal: ac.signal }), (t) => /"held"/.test(t), ac);
          return /([\w-]{22}\.1)/.exec(text)![1]!;
        }

        it.each<[string, { headers: Record<string, string>; want: number; code?: string }]>([
          ['another principal: 403, no data', { headers: { authorization: 'Bearer token-b' }, want: 403, code: 'PERMISSION_DENIED' }],
          ['no credentials: 401', { headers: {}, want: 401, code: 'UNAUTHENTICATED' }],
          ['the same principal: resumed', { headers: { authorization: 'Bearer token-a' }, want: 200 }],
        ])('%s', async (_name, { headers, want, code }) => {
          const calls: HandlerContext[] = [];
          const asked: AuthRequest[] = [];
          const { router } = makeRouter(transport, [[completion, holding(calls)]], {
            authenticate: (req) => (asked.push(req), authenticate(req)),
          });
          const h = await open(router);
          const id = await firstId(h);
          const ac = new AbortController();
          const res = await h.call('/v1/c/x/completion?prompt=hi', { headers: { ...headers, [resumeHeader]: id }, signal: ac.signal });
          expect(res.status).toBe(want);
          // The hook runs again on the resume, and is told what is resumed.
          expect(asked.map((r) => r.resumeFrom)).toEqual([undefined, id]);
          if (code) {
            expect(await res.json()).toMatchObject({ code });
            expect(calls).toHaveLength(1);
          } else {
            const text = await readUntil(res, (t) => /"held"/.test(t), ac);
            expect(text).toContain(id.replace(/1$/, '2'));
            expect(calls.map((c) => [c.principal, c.resumeFrom])).toEqual([
              [USERS['token-a'], undefined],
              [USERS['token-a'], 1],
            ]);
          }
        });

        it('a stream opened anonymously (auth: optional) is not resumed by a signed-in principal, nor the reverse', async () => {
          const { router } = makeRouter(transport, [[auth('optional'), holding()]], { authenticate });
          const h = await open(router);
          const ac = new AbortController();
          const text = await readUntil(await h.call('/v1/c/x/completion?prompt=hi', { signal: ac.signal }), (t) => /"held"/.test(t), ac);
          const anonymous = /([\w-]{22}\.1)/.exec(text)![1]!;
          expect((await h.call('/v1/c/x/completion?prompt=hi', { headers: { authorization: 'Bearer token-a', [resumeHeader]: anonymous } })).status).toBe(403);
          const owned = await firstId(h);
          expect((await h.call('/v1/c/x/completion?prompt=hi', { headers: { [resumeHeader]: owned } })).status).toBe(403);
        });
      });

      describe('maxStreamsPerPrincipal', () => {
        it('refuses one stream too many with 429 RESOURCE_EXHAUSTED, per principal, until one closes', async () => {
          const calls: HandlerContext[] = [];
          const { router } = makeRouter(transport, [[completion, holding(calls)]], { authenticate, maxStreamsPerPrincipal: 2 });
          const h = await open(router);
          const held: AbortController[] = [];
          /** Opens a stream as `token` and reads its first message, keeping the response open; returns that message's id. */
          const hold = async (token: string, headers: Record<string, string> = {}) => {
            const ac = new AbortController();
            held.push(ac);
            const res = await h.call('/v1/c/x/completion?prompt=hi', { headers: { authorization: `Bearer ${token}`, ...headers }, signal: ac.signal });
            expect(res.status).toBe(200);
            const reader = res.body!.getReader();
            let text = '';
            while (!text.includes('held')) text += new TextDecoder().decode((await reader.read()).value);
            return { ac, id: /([\w-]{22}\.\d+)/.exec(text)![1]! };
          };
          const first = await hold('token-a');
          await hold('token-a');
          const third = await h.call('/v1/c/x/completion?prompt=hi', as('token-a'));
          expect(third.status).toBe(429);
          expect(await third.json()).toEqual({ code: 'RESOURCE_EXHAUSTED', message: 'at most 2 streams may be open at once for one principal' });
          await hold('token-b'); // another principal has its own count
          // A resume of a stream the principal holds takes its connection over: no second slot needed.
          const resumeHeader = transport === 'sse' ? 'last-event-id' : 'streamspec-resume';
          const taken = await hold('token-a', { [resumeHeader]: first.id });
          expect(taken.id.split('.')[0]).toBe(first.id.split('.')[0]);
          // Once a stream has closed, its slot is free again.
          taken.ac.abort();
          expect(await until(() => calls.filter((c) => c.signal.aborted).length === 2)).toBe(true);
          await sleep(20);
          await hold('token-a');
          for (const ac of held) ac.abort();
        });
      });
    });
  });
});
