import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  openStream,
  type ClientOptions,
  type ConnectionState,
  type FrameSink,
  type Source,
  type StreamCallOptions,
} from './client.ts';
import { StreamError, StreamInterruptedError, StreamProtocolError } from './errors.ts';
import { ndjson } from './ndjson-source.ts';
import { sse } from './sse-source.ts';

// Drives the client against a scripted node:http server on 127.0.0.1 that writes exact bytes.

type Msg = { type: string; id: string; data: unknown };
interface Req {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
  closed: boolean;
}
type Handler = (res: ServerResponse, n: number, req: Req) => unknown;

const SID = 'AbCdEfGhIjKlMnOpQrSt_-'; // 22 base64url characters
const id = (n: number) => `${SID}.${n}`;
const ev = (n: number, type: string, data: unknown = null) => `id: ${id(n)}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
const nd = (n: number, type: string, data: unknown = null) => JSON.stringify({ seq: n, id: id(n), type, data }) + '\n';
const sseHead = (res: ServerResponse, retry = 10) => {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
  res.write(`retry: ${retry}\n\n`);
};
const ndHead = (res: ServerResponse) => res.writeHead(200, { 'content-type': 'application/x-ndjson' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const servers: Server[] = [];
beforeEach(() => {
  // No jitter wait unless a test asks for one: reconnects happen at once.
  vi.spyOn(Math, 'random').mockReturnValue(0);
});
afterEach(async () => {
  vi.restoreAllMocks();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function serve(handler: Handler) {
  const reqs: Req[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      const r: Req = { method: req.method!, url: req.url!, headers: req.headers, body, at: performance.now(), closed: false };
      reqs.push(r);
      res.on('close', () => (r.closed = true));
      void handler(res, reqs.length - 1, r);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, reqs };
}

/** openStream's positional arguments, by name, with defaults. */
interface Target {
  path: string;
  method: 'GET' | 'POST';
  request: unknown;
  terminal: string;
  idleMs: number;
  resume: boolean;
  source: Source;
}

function open(base: string, target: Partial<Target> = {}, options?: StreamCallOptions, client: Partial<ClientOptions> = {}) {
  const t: Target = { path: '/s', method: 'GET', request: undefined, terminal: 'done', idleMs: 2000, resume: true, source: sse, ...target };
  const post = t.method == 'POST' ? 'POST' : undefined;
  return openStream<Msg>({ baseUrl: base, ...client }, { ...options, request: t.request }, t.path, t.terminal, t.idleMs, t.resume, t.source, post);
}

/** Iterates to the end (or first error) within `ms`, never longer. */
async function drain(call: AsyncIterable<Msg>, ms = 3000): Promise<{ got: Msg[]; err?: unknown }> {
  const got: Msg[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('drain timed out')), ms)));
  try {
    await Promise.race([
      (async () => {
        for await (const m of call) got.push(m);
      })(),
      timeout,
    ]);
    return { got };
  } catch (err) {
    if (err instanceof Error && err.message === 'drain timed out') throw err;
    return { got, err };
  } finally {
    clearTimeout(timer);
  }
}

async function until(cond: () => boolean, ms = 2000) {
  for (const end = Date.now() + ms; !cond(); await sleep(5)) if (Date.now() > end) throw new Error('condition not met in time');
}

const types = (got: Msg[]) => got.map((m) => `${m.type}:${JSON.stringify(m.data)}`);

describe('frame checks', () => {
  // One frame as a source hands it over, after a resume from seq 2, and then the end of the body:
  // the message delivered (or the count dropped), or the call's StreamProtocolError.
  async function deliver(given: Parameters<FrameSink>) {
    const source: Source = { accept: 'x', resumeHeader: 'x', read: async (_body, frame) => frame(...given) };
    const fetch = async () => new Response('');
    const call = open('http://x', { source }, { resumeFrom: id(2) }, { fetch, maxAttempts: 1 });
    return { ...(await drain(call)), dropped: call.dropped };
  }

  it.each<[string, { given: Parameters<FrameSink>; want: Msg | { count: number } | 'error' }]>([
    ['message, seq from id', { given: ['token', id(3), { t: 1 }], want: { seq: 3, id: id(3), type: 'token', data: { t: 1 } } as Msg }],
    [
      '$error',
      {
        given: ['$error', id(3), { code: 'X', message: 'm', retryable: true }],
        want: { seq: 3, id: id(3), type: '$error', data: { code: 'X', message: 'm', retryable: true } } as Msg,
      },
    ],
    ['$dropped', { given: ['$dropped', undefined, { count: 4 }], want: { count: 4 } }],
    ['seq 0 in id', { given: ['token', id(0), null], want: 'error' }],
    ['short stream id', { given: ['token', 'abc.3', null], want: 'error' }],
    ['no seq in id', { given: ['token', SID, null], want: 'error' }],
    ['a seq with a leading zero in id', { given: ['token', `${SID}.03`, null], want: 'error' }],
    ['a seq in exponent form in id', { given: ['token', `${SID}.3e0`, null], want: 'error' }],
    // (An id the regex refuses, to show it is not run.)
    ['the seq the source read, not the regex', { given: ['token', `${SID}.03`, null, 3], want: { seq: 3, id: `${SID}.03`, type: 'token', data: null } as Msg }],
    ['the source found no seq', { given: ['token', id(3), null, NaN], want: 'error' }],
    ['the source found the seq wanting (0)', { given: ['token', id(3), null, 0], want: 'error' }],
    ['a gap', { given: ['token', id(4), null], want: 'error' }],
    ['another stream id', { given: ['token', `${SID.slice(1)}Z.3`, null], want: 'error' }],
    ['id not a string', { given: ['token', [id(3)], null], want: 'error' }],
    ['no type', { given: [undefined, id(3), null], want: 'error' }],
    ['empty type', { given: ['', id(3), null], want: 'error' }],
    ['type not a string', { given: [5, id(3), null], want: 'error' }],
    ['type an array', { given: [['token'], id(3), null], want: 'error' }],
    ['unknown reserved type', { given: ['$foo', id(3), null], want: 'error' }],
    ['$error without code', { given: ['$error', id(3), { message: 'm' }], want: 'error' }],
    ['$error with null data', { given: ['$error', id(3), null], want: 'error' }],
    ['$error with a message that is not a string', { given: ['$error', id(3), { code: 'X', message: 5 }], want: 'error' }],
    ['$dropped with a bad count', { given: ['$dropped', undefined, { count: 1.5 }], want: 'error' }],
    ['$dropped with null data', { given: ['$dropped', undefined, null], want: 'error' }],
  ])('%s', async (_name, { given, want }) => {
    const { got, err, dropped } = await deliver(given);
    if (want === 'error') {
      expect(err).toBeInstanceOf(StreamProtocolError);
      expect(got).toEqual([]);
    } else if ('count' in want) {
      expect([got, dropped]).toEqual([[], want.count]);
    } else if (want.type === '$error') {
      expect(err).toMatchObject({ name: 'StreamError', code: 'X', message: 'm', retryable: true });
      expect(got).toEqual([]);
    } else {
      expect(got).toEqual([want]);
      expect(err).toBeInstanceOf(StreamInterruptedError); // the body ended without the terminal message
    }
  });

  it('drops a replay at or below the last seq unchecked for its stream id, and checks the next', async () => {
    const source: Source = {
      accept: 'x',
      resumeHeader: 'x',
      async read(_body, frame) {
        frame('token', `${SID.slice(1)}Z.2`, 'replayed');
        frame('token', id(3), 'next');
        frame('done', `${SID.slice(1)}Z.4`, null);
      },
    };
    const call = open('http://x', { source }, { resumeFrom: id(2) }, { fetch: async () => new Response(''), maxAttempts: 1 });
    const { got, err } = await drain(call);
    expect(got.map((m) => m.data)).toEqual(['next']);
    expect(err).toBeInstanceOf(StreamProtocolError);
  });
});

describe('openStream', () => {
  it('delivers messages in order and ends right after the terminal message', async () => {
    const { base, reqs } = await serve((res) => {
      sseHead(res);
      res.write(ev(1, 'token', { text: 'Hel' }) + ev(2, 'token', { text: 'lo' }));
      res.write(ev(3, 'done', { finishReason: 'stop' })); // and the response stays open
    });
    const states: ConnectionState[] = [];
    const call = open(base, {}, { onState: (s) => states.push(s) });
    expect(call.state).toBe('connecting');
    const { got, err } = await drain(call);
    expect(err).toBeUndefined();
    expect(types(got)).toEqual(['token:{"text":"Hel"}', 'token:{"text":"lo"}', 'done:{"finishReason":"stop"}']);
    expect(got[2]!.id).toBe(id(3));
    expect(call.lastId).toBe(id(3));
    expect(states).toEqual(['connecting', 'open', 'closed']);
    expect(reqs[0]!.headers.accept).toBe('text/event-stream');
    await until(() => reqs[0]!.closed); // the client closed the connection itself
    expect(reqs).toHaveLength(1);
  });

  it('delivers nothing after the terminal message, even in the same chunk', async () => {
    const { base } = await serve((res) => (sseHead(res), res.end(ev(1, 'done') + ev(2, 'token', 2) + ev(4, 'token', 4))));
    const { got, err } = await drain(open(base));
    expect(err).toBeUndefined();
    expect(types(got)).toEqual(['done:null']);
  });

  it('connects lazily, on the first pull', async () => {
    const { base, reqs } = await serve((res) => (sseHead(res), res.end(ev(1, 'done'))));
    const call = open(base);
    await sleep(50);
    expect(reqs).toHaveLength(0);
    expect((await drain(call)).got).toHaveLength(1);
  });

  it('serialises a flat request as query parameters of a GET', async () => {
    const { base, reqs } = await serve((res) => (sseHead(res), res.end(ev(1, 'done'))));
    const query = { q: 'a b&c', n: [1, 2], on: true, skip: undefined, none: null };
    await drain(open(base + '/', { path: '/v1/rooms/r%2F1/stream', request: query }));
    expect(reqs[0]!.method).toBe('GET');
    expect(reqs[0]!.url).toBe('/v1/rooms/r%2F1/stream?q=a+b%26c&n=1&n=2&on=true');
    expect(reqs[0]!.headers['content-type']).toBeUndefined();
  });

  it('sends any other request as the JSON body of a POST', async () => {
    const { base, reqs } = await serve((res) => (sseHead(res), res.end(ev(1, 'done'))));
    const body = { prompt: 'hi "there"', opts: { n: 1 } };
    await drain(open(base, { method: 'POST', request: body }));
    expect(reqs[0]).toMatchObject({ method: 'POST', url: '/s', body: JSON.stringify(body) });
    expect(reqs[0]!.headers['content-type']).toBe('application/json');
  });

  it('asks for headers at every connect, and resumes from the last id after the socket dies', async () => {
    const { base, reqs } = await serve((res, n) => {
      sseHead(res);
      if (n === 0) {
        res.write(ev(1, 'token', 1) + ev(2, 'token', 2));
        setTimeout(() => res.socket!.destroy(), 20);
      } else {
        res.write(ev(2, 'token', 2) + ev(3, 'token', 3)); // replays 2: a duplicate
        res.end(ev(4, 'done'));
      }
    });
    let asked = 0;
    const states: ConnectionState[] = [];
    const call = open(base, {}, { onState: (s) => states.push(s) }, { headers: async () => ({ authorization: `Bearer ${++asked}` }) });
    const { got, err } = await drain(call);
    expect(err).toBeUndefined();
    expect(types(got)).toEqual(['token:1', 'token:2', 'token:3', 'done:null']);
    expect(reqs.map((r) => r.headers.authorization)).toEqual(['Bearer 1', 'Bearer 2']);
    expect(reqs[0]!.headers['last-event-id']).toBeUndefined();
    expect(reqs[1]!.headers['last-event-id']).toBe(id(2));
    expect(states).toEqual(['connecting', 'open', 'reconnecting', 'open', 'closed']);
  });

  it('resumes NDJSON with Streamspec-Resume and drops duplicates', async () => {
    const { base, reqs } = await serve((res, n) => {
      ndHead(res);
      if (n === 0) {
        res.write(nd(1, 'token', 'a') + nd(2, 'token', 'b'));
        setTimeout(() => res.socket!.destroy(), 20);
      } else res.end(nd(1, 'token', 'a') + nd(2, 'token', 'b') + nd(3, 'done'));
    });
    const { got, err } = await drain(open(base, { source: ndjson }));
    expect(err).toBeUndefined();
    expect(types(got)).toEqual(['token:"a"', 'token:"b"', 'done:null']);
    expect(reqs[0]!.headers.accept).toBe('application/x-ndjson');
    expect(reqs[1]!.headers['streamspec-resume']).toBe(id(2));
  });

  it('resumes from resumeFrom on the first connect', async () => {
    const { base, reqs } = await serve((res) => (sseHead(res), res.end(ev(5, 'token', 5) + ev(6, 'token', 6) + ev(7, 'done'))));
    const { got, err } = await drain(open(base, {}, { resumeFrom: id(5) }));
    expect(err).toBeUndefined();
    expect(types(got)).toEqual(['token:6', 'done:null']);
    expect(reqs[0]!.headers['last-event-id']).toBe(id(5));
  });

  it('reconnects after an end without the terminal message when it can resume', async () => {
    const { base, reqs } = await serve((res, n) => {
      sseHead(res);
      res.end(n === 0 ? ev(1, 'token', 1) : ev(2, 'done'));
    });
    const { got, err } = await drain(open(base));
    expect(err).toBeUndefined();
    expect(types(got)).toEqual(['token:1', 'done:null']);
    expect(reqs).toHaveLength(2);
  });

  it.each([
    ['an end of body', (res: ServerResponse) => res.end(ev(1, 'token', 1))],
    ['a dead socket', (res: ServerResponse) => (res.write(ev(1, 'token', 1)), setTimeout(() => res.socket!.destroy(), 20))],
  ])('throws StreamInterruptedError after %s without resume', async (_name, script) => {
    const { base, reqs } = await serve((res) => (sseHead(res), script(res)));
    const { got, err } = await drain(open(base, { resume: false }));
    expect(types(got)).toEqual(['token:1']);
    expect(err).toBeInstanceOf(StreamInterruptedError);
    await sleep(30);
    expect(reqs).toHaveLength(1);
  });

  it('reports a gap in sequence numbers as StreamProtocolError', async () => {
    const { base } = await serve((res) => (sseHead(res), res.write(ev(1, 'token', 1) + ev(3, 'token', 3))));
    const { got, err } = await drain(open(base));
    expect(types(got)).toEqual(['token:1']);
    expect(err).toBeInstanceOf(StreamProtocolError);
  });

  it('reconnects when the connection goes quiet for longer than idleMs', async () => {
    const { base, reqs } = await serve((res, n) => {
      sseHead(res);
      if (n === 0)
        res.write(ev(1, 'token', 1)); // then silence, connection open
      else res.end(ev(2, 'done'));
    });
    const started = performance.now();
    const { got, err } = await drain(open(base, { idleMs: 150 }));
    expect(err).toBeUndefined();
    expect(types(got)).toEqual(['token:1', 'done:null']);
    expect(reqs).toHaveLength(2);
    expect(reqs[0]!.closed).toBe(true);
    expect(reqs[1]!.at - started).toBeGreaterThanOrEqual(140);
  });

  it('reconnects when the server never answers within idleMs', async () => {
    const { base, reqs } = await serve((res, n) => {
      if (n > 0) (sseHead(res), res.end(ev(1, 'done'))); // the first request gets no answer
    });
    const { got, err } = await drain(open(base, { idleMs: 100 }));
    expect(err).toBeUndefined();
    expect(types(got)).toEqual(['done:null']);
    expect(reqs).toHaveLength(2);
  });

  it('keeps a connection with heartbeat comments alive', async () => {
    const { base, reqs } = await serve(async (res) => {
      sseHead(res);
      res.write(ev(1, 'token', 1));
      for (let i = 0; i < 6; i++) await sleep(50).then(() => res.write(': hb\n\n'));
      res.write(ev(2, 'done'));
    });
    const { got, err } = await drain(open(base, { idleMs: 150 }));
    expect(err).toBeUndefined();
    expect(types(got)).toEqual(['token:1', 'done:null']);
    expect(reqs).toHaveLength(1);
  });

  it('keeps an NDJSON connection with heartbeat lines alive', async () => {
    const { base, reqs } = await serve(async (res) => {
      ndHead(res);
      for (let i = 0; i < 6; i++) await sleep(50).then(() => res.write('{"type":"$heartbeat"}\n'));
      res.end(nd(1, 'done'));
    });
    const { got, err } = await drain(open(base, { idleMs: 150, source: ndjson }));
    expect(err).toBeUndefined();
    expect(types(got)).toEqual(['done:null']);
    expect(reqs).toHaveLength(1);
  });

  it('does not count a slow consumer as an idle connection', async () => {
    const { base, reqs } = await serve((res) => {
      sseHead(res);
      res.write(ev(1, 'token', 1));
      setTimeout(() => res.write(ev(2, 'done')), 20);
    });
    const got: Msg[] = [];
    for await (const m of open(base, { idleMs: 80 })) {
      got.push(m);
      await sleep(200); // no bytes are read meanwhile, and that is not silence
    }
    expect(types(got)).toEqual(['token:1', 'done:null']);
    expect(reqs).toHaveLength(1);
  });

  it('throws StreamError for a $error frame, after the messages before it, without reconnecting', async () => {
    const { base, reqs } = await serve((res) => {
      sseHead(res);
      res.end(ev(1, 'token', 1) + ev(2, '$error', { code: 'RATE_LIMITED', message: 'slow down', retryable: true }));
    });
    const { got, err } = await drain(open(base));
    expect(types(got)).toEqual(['token:1']);
    expect(err).toBeInstanceOf(StreamError);
    expect(err).toMatchObject({ code: 'RATE_LIMITED', message: 'slow down', retryable: true });
    await sleep(30);
    expect(reqs).toHaveLength(1);
  });

  it.each<[string, { status: number; body?: string; resumeFrom?: string; want: { type: unknown; code?: string; message?: string } }]>([
    [
      '400 with a JSON body',
      {
        status: 400,
        body: '{"code":"INVALID_REQUEST","message":"prompt is required","issues":[]}',
        want: { type: StreamError, code: 'INVALID_REQUEST', message: 'prompt is required' },
      },
    ],
    [
      '404 with a JSON body',
      { status: 404, body: '{"code":"NOT_FOUND","message":"no stream"}', want: { type: StreamError, code: 'NOT_FOUND' } },
    ],
    ['403 without JSON', { status: 403, body: '<h1>no</h1>', want: { type: StreamError, code: 'HTTP_403', message: 'Forbidden' } }],
    // fetch follows redirects; a 3xx that reaches the client is not a stream, and retrying cannot make it one.
    ['300 (not followed)', { status: 300, body: '', want: { type: StreamError, code: 'HTTP_300' } }],
    [
      '410 on a resume',
      {
        status: 410,
        body: '{"code":"RESUME_EXPIRED","message":"gone"}',
        resumeFrom: id(9),
        want: { type: StreamError, code: 'RESUME_EXPIRED' },
      },
    ],
    ['410 without a body', { status: 410, resumeFrom: id(9), want: { type: StreamError, code: 'RESUME_EXPIRED' } }],
    ['204 on a resume', { status: 204, resumeFrom: id(9), want: { type: StreamInterruptedError } }],
  ])('answers %s with a typed error and no retry', async (_name, { status, body, resumeFrom, want }) => {
    const { base, reqs } = await serve((res) => {
      res.writeHead(status, body?.startsWith('{') ? { 'content-type': 'application/json' } : {});
      res.end(body);
    });
    const { got, err } = await drain(open(base, {}, { resumeFrom }));
    expect(got).toEqual([]);
    expect(err).toBeInstanceOf(want.type);
    if (want.code) expect((err as StreamError).code).toBe(want.code);
    if (want.message) expect((err as Error).message).toBe(want.message);
    if (resumeFrom) expect(reqs[0]!.headers['last-event-id']).toBe(resumeFrom);
    await sleep(30);
    expect(reqs).toHaveLength(1);
  });

  describe('401 and 403', () => {
    const deny = (res: ServerResponse, status: 401 | 403) =>
      res
        .writeHead(status, { 'content-type': 'application/json' })
        .end(JSON.stringify({ code: status === 401 ? 'UNAUTHENTICATED' : 'PERMISSION_DENIED', message: 'no' }));
    const tokens = () => {
      let asked = 0;
      return { headers: () => ({ authorization: `Bearer ${++asked}` }) };
    };
    const auth = (reqs: Req[]) => reqs.map((r) => r.headers.authorization);

    it.each<[string, { statuses: (401 | 403)[]; want: string; tokens: string[] }]>([
      ['401 twice: asks for headers once more, then stops', { statuses: [401, 401], want: 'UNAUTHENTICATED', tokens: ['Bearer 1', 'Bearer 2'] }],
      ['403: stops at once', { statuses: [403], want: 'PERMISSION_DENIED', tokens: ['Bearer 1'] }],
      ['401 then 403: stops at the 403', { statuses: [401, 403], want: 'PERMISSION_DENIED', tokens: ['Bearer 1', 'Bearer 2'] }],
    ])('%s', async (_name, { statuses, want, tokens: sent }) => {
      const { base, reqs } = await serve((res, n) => deny(res, statuses[Math.min(n, statuses.length - 1)]!));
      const { got, err } = await drain(open(base, {}, {}, tokens()));
      expect(got).toEqual([]);
      expect(err).toBeInstanceOf(StreamError);
      expect((err as StreamError).code).toBe(want);
      await sleep(30);
      expect(auth(reqs)).toEqual(sent);
    });

    it('a refreshed token after a 401 opens the stream', async () => {
      const { base, reqs } = await serve((res, _n, req) => {
        if (req.headers.authorization !== 'Bearer 2') return deny(res, 401);
        sseHead(res);
        res.end(ev(1, 'done'));
      });
      const { got, err } = await drain(open(base, {}, {}, tokens()));
      expect(err).toBeUndefined();
      expect(types(got)).toEqual(['done:null']);
      expect(auth(reqs)).toEqual(['Bearer 1', 'Bearer 2']);
    });

    it('a message restores the one retry: a 401 at each of two later reconnects is refreshed', async () => {
      // Odd tokens are good, even ones expired (401); the response ends after each message.
      const { base, reqs } = await serve((res, _n, req) => {
        const t = Number(req.headers.authorization?.slice(7));
        if (t % 2 === 0) return deny(res, 401);
        sseHead(res);
        if (t === 1) res.end(ev(1, 'token', 'a'));
        else if (t === 3) res.end(ev(2, 'token', 'b'));
        else res.end(ev(3, 'done'));
      });
      let asked = 0;
      const { got, err } = await drain(open(base, {}, {}, { headers: () => ({ authorization: `Bearer ${++asked}` }) }));
      expect(err).toBeUndefined();
      expect(types(got)).toEqual(['token:"a"', 'token:"b"', 'done:null']);
      expect(auth(reqs)).toEqual(['Bearer 1', 'Bearer 2', 'Bearer 3', 'Bearer 4', 'Bearer 5']);
      expect(reqs.slice(1).map((r) => r.headers['last-event-id'])).toEqual([id(1), id(1), id(2), id(2)]);
    });
  });

  it('retries 5xx answers and recovers', async () => {
    const { base, reqs } = await serve((res, n) => {
      if (n < 2) return void res.writeHead(503).end('busy');
      sseHead(res);
      res.end(ev(1, 'done'));
    });
    const { got, err } = await drain(open(base));
    expect(err).toBeUndefined();
    expect(types(got)).toEqual(['done:null']);
    expect(reqs).toHaveLength(3);
  });

  it('gives up after maxAttempts failed connects with StreamInterruptedError', async () => {
    const { base, reqs } = await serve((res) => void res.writeHead(503).end());
    const states: ConnectionState[] = [];
    const { err } = await drain(open(base, {}, { onState: (s) => states.push(s) }, { maxAttempts: 3 }));
    expect(err).toBeInstanceOf(StreamInterruptedError);
    expect((err as Error).message).toContain('HTTP 503');
    expect(reqs).toHaveLength(3);
    expect(states).toEqual(['connecting', 'reconnecting', 'reconnecting', 'closed']);
  });

  it('retries network errors', async () => {
    const { base, reqs } = await serve((res, n) => {
      if (n === 0) return void res.socket!.destroy();
      sseHead(res);
      res.end(ev(1, 'done'));
    });
    const { got, err } = await drain(open(base));
    expect(err).toBeUndefined();
    expect(got).toHaveLength(1);
    expect(reqs).toHaveLength(2);
  });

  it('backs off exponentially from the server retry:, capped, and resets after a message', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(1); // full jitter at its top: the exact delay
    const { base, reqs } = await serve((res, n) => {
      if (n === 1 || n === 2) return void res.writeHead(503).end();
      sseHead(res, 40);
      if (n === 0) res.end(ev(1, 'token', 1));
      else if (n === 3) res.end(ev(2, 'token', 2));
      else res.end(ev(3, 'done'));
    });
    const { got, err } = await drain(open(base, {}, {}, { maxRetryMs: 120 }), 5000);
    expect(err).toBeUndefined();
    expect(got).toHaveLength(3);
    const gaps = reqs.slice(1).map((r, i) => r.at - reqs[i]!.at);
    // 40, then doubling (80), capped at 120, and back to 40 once a message arrived.
    const want = [40, 80, 120, 40];
    gaps.forEach((g, i) => {
      expect(g).toBeGreaterThanOrEqual(want[i]! - 5);
      expect(g).toBeLessThan(want[i]! + 100);
    });
    expect(gaps[2]! - gaps[3]!).toBeGreaterThan(40);
  });

  it('throws the abort reason promptly and aborts the fetch', async () => {
    const { base, reqs } = await serve((res) => (sseHead(res), res.write(ev(1, 'token', 1))));
    const ac = new AbortController();
    const call = open(base, {}, { signal: ac.signal });
    const it = call[Symbol.asyncIterator]();
    expect((await it.next()).value).toMatchObject({ type: 'token' });
    const pending = it.next();
    await sleep(30);
    const t = performance.now();
    ac.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    expect(performance.now() - t).toBeLessThan(100);
    expect(call.state).toBe('closed');
    await until(() => reqs[0]!.closed);
    expect(await it.next()).toMatchObject({ done: true });
  });

  it('throws at once for a signal aborted before the first pull, without a request', async () => {
    const { base, reqs } = await serve((res) => (sseHead(res), res.end(ev(1, 'done'))));
    const reason = new Error('not wanted');
    const { err } = await drain(open(base, {}, { signal: AbortSignal.abort(reason) }));
    expect(err).toBe(reason);
    await sleep(30);
    expect(reqs).toHaveLength(0);
  });

  it('cancels the backoff sleep on abort, so no timer keeps the process alive', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(1); // a 5 s backoff: far longer than this test waits
    const { base, reqs } = await serve((res) => void res.writeHead(503).end());
    // Every timer client.ts starts, until it fires or is cleared.
    const pending = new Set<unknown>();
    const realSet = globalThis.setTimeout;
    const realClear = globalThis.clearTimeout;
    vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
      const t = realSet(() => (pending.delete(t), fn()), ms);
      if (/[/\\]client\.ts:/.test(new Error().stack!)) pending.add(t);
      return t;
    }) as typeof setTimeout);
    vi.spyOn(globalThis, 'clearTimeout').mockImplementation(((t: Parameters<typeof clearTimeout>[0]) => {
      pending.delete(t);
      realClear(t);
    }) as typeof clearTimeout);
    const ac = new AbortController();
    const states: ConnectionState[] = [];
    const done = drain(open(base, {}, { signal: ac.signal, onState: (s) => states.push(s) }, { maxRetryMs: 5000 }));
    await until(() => states.includes('reconnecting'));
    expect(pending.size).toBe(1); // the backoff sleep (the idle timer went with the connection)
    ac.abort();
    const { err } = await done;
    expect(err).toMatchObject({ name: 'AbortError' });
    expect(pending.size).toBe(0);
    expect(reqs).toHaveLength(1);
  });

  it('aborts the connection on break', async () => {
    const { base, reqs } = await serve((res) => (sseHead(res), res.write(ev(1, 'token', 1) + ev(2, 'token', 2))));
    const call = open(base);
    for await (const m of call) if (m.type === 'token') break;
    expect(call.state).toBe('closed');
    await until(() => reqs[0]!.closed);
  });

  it('counts dropped messages', async () => {
    const { base } = await serve((res) => {
      sseHead(res);
      res.end(ev(1, 'token', 1) + 'event: $dropped\ndata: {"count":3}\n\n' + ev(2, 'done'));
    });
    const call = open(base);
    expect((await drain(call)).got).toHaveLength(2);
    expect(call.dropped).toBe(3);
  });

  it('reads the body no more than one chunk ahead of the consumer', async () => {
    const { base } = await serve((res) => (sseHead(res), res.write('')));
    let reads = 0; // how many times the source was let go on
    const source: Source = {
      accept: 'text/event-stream',
      resumeHeader: 'Last-Event-ID',
      async read(_body, frame, alive) {
        for (let n = 1; n < 100; reads++) {
          for (let i = 0; i < 3; i++, n++) frame('token', id(n), n);
          await alive();
        }
      },
    };
    const it = open(base, { source })[Symbol.asyncIterator]();
    await it.next(); // 1 of 3 delivered frames taken
    await sleep(50);
    expect(reads).toBe(0);
    await it.next();
    await it.next();
    await sleep(20);
    expect(reads).toBe(1); // all 3 taken: the next 3 are read, and no more
    await sleep(30);
    expect(reads).toBe(1);
    expect((await it.next()).value).toMatchObject({ data: 4 });
    await it.next();
    await sleep(20);
    expect(reads).toBe(1);
    await it.return!();
  });
  it('answers next() calls made at once in order, each with its own message', async () => {
    const { base } = await serve(async (res) => {
      sseHead(res);
      for (let n = 1; n <= 3; n++) res.write(ev(n, 'token', n)), await sleep(20);
      res.end(ev(4, 'done'));
    });
    const it = open(base)[Symbol.asyncIterator]();
    // Asked for before any message came: each waits, and a wake must reach every one of them.
    const results = await Promise.race([Promise.all(Array.from({ length: 6 }, () => it.next())), sleep(2000).then(() => 'hung')]);
    expect(results).toMatchObject([
      { value: { data: 1 } },
      { value: { data: 2 } },
      { value: { data: 3 } },
      { value: { type: 'done' } },
      { done: true },
      { done: true },
    ]);
  });
});

describe('malformed input', () => {
  it.each([
    ['data that is not JSON', ev(1, 'token', 1) + `id: ${id(2)}\nevent: token\ndata: {"text":\n\n`],
    ['a message without an id', 'event: token\ndata: 1\n\n'],
    ['an id that is not <streamId>.<seq>', 'id: 42\nevent: token\ndata: 1\n\n'],
    ['a message without an event name', `id: ${id(1)}\ndata: 1\n\n`],
    ['an unknown reserved type', `id: ${id(1)}\nevent: $surprise\ndata: 1\n\n`],
    ['an $error without a code', `id: ${id(1)}\nevent: $error\ndata: {"message":"x"}\n\n`],
  ])('SSE: %s is a StreamProtocolError', async (_name, bytes) => {
    const { base, reqs } = await serve((res) => (sseHead(res), res.end(bytes)));
    const { err } = await drain(open(base), 2000);
    expect(err).toBeInstanceOf(StreamProtocolError);
    expect(reqs).toHaveLength(1);
  });

  it.each([
    ['a line that is not JSON', '{"seq":1,\n'],
    ['a line that is not an object', '[1,2]\n'],
    ['a missing seq', `{"id":"${id(1)}","type":"token","data":1}\n`],
    ['a non-integer seq', `{"seq":1.5,"id":"${id(1)}","type":"token","data":1}\n`],
    ['a seq that disagrees with the id', `{"seq":2,"id":"${id(1)}","type":"token","data":1}\n`],
    ['an id that is not <streamId>.<seq>', '{"seq":1,"id":"x.1","type":"token","data":1}\n'],
    ['an unknown reserved type', `{"seq":1,"id":"${id(1)}","type":"$surprise"}\n`],
    ['a bad dropped count', `{"seq":1,"id":"${id(1)}","type":"token","data":1,"dropped":-1}\n`],
  ])('NDJSON: %s is a StreamProtocolError', async (_name, bytes) => {
    const { base, reqs } = await serve((res) => (ndHead(res), res.end(bytes)));
    const { err } = await drain(open(base, { source: ndjson }), 2000);
    expect(err).toBeInstanceOf(StreamProtocolError);
    expect(reqs).toHaveLength(1);
  });

  // A body that ends inside a frame is a connection that died (a crashed server or proxy can end
  // a response cleanly): the cut frame is dropped and the client resumes from the last whole one.
  it.each([
    ['SSE: a final frame without its blank line', sse, `id: ${id(2)}\nevent: done\ndata: null\n`, ev(2, 'done')],
    ['SSE: a final frame cut mid-line', sse, `id: ${id(2)}\nevent: done\ndata: {"fin`, ev(2, 'done')],
    ['NDJSON: a final line without its newline', ndjson, nd(2, 'done').trimEnd(), nd(2, 'done')],
  ] as const)('%s: resumes from the last whole frame', async (_name, source, cut, rest) => {
    const whole = source === sse ? ev(1, 'token', 1) : nd(1, 'token', 1);
    const head = source === sse ? sseHead : ndHead;
    const { base, reqs } = await serve((res, i) => (head(res), res.end(i === 0 ? whole + cut : rest)));
    const { got, err } = await drain(open(base, { source }), 3000);
    expect(err).toBeUndefined();
    expect(got.map((m) => [m.type, m.id])).toEqual([
      ['token', id(1)],
      ['done', id(2)],
    ]);
    expect(reqs).toHaveLength(2);
    expect(reqs[1]!.headers[source.resumeHeader.toLowerCase()]).toBe(id(1));
  });
});
