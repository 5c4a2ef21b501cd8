import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Issue } from './validation.ts';
import { CONTROL_PATH } from './control.ts';
import { closeCodeFor, closeReason, createWebSocketRouter, SUBPROTOCOL, textFrames, type WebSocketDescriptor, type WebSocketHandler, type WebSocketRouter, type WebSocketRouterOptions } from './ws-router.ts';
import { StreamError } from './errors.ts';

describe('closeReason', () => {
  it.each([
    ['short text stays', { given: 'RATE_LIMITED: slow down', want: 'RATE_LIMITED: slow down' }],
    ['cut to 123 bytes', { given: 'x'.repeat(200), want: 'x'.repeat(123) }],
    ['never inside a character', { given: `${'x'.repeat(122)}é`, want: 'x'.repeat(122) }],
    ['astral characters whole', { given: '😀'.repeat(40), want: '😀'.repeat(30) }],
  ])('%s', (_, { given, want }) => {
    expect(closeReason(given)).toBe(want);
    expect(Buffer.byteLength(closeReason(given))).toBeLessThanOrEqual(123);
  });
});

describe('textFrames', () => {
  // Header bytes per RFC 6455 §5.2: FIN + text opcode, then the shortest length encoding.
  it.each([
    ['empty', { given: [''], want: [[0x81, 0], ''] }],
    ['125 bytes: one length byte', { given: ['x'.repeat(125)], want: [[0x81, 125], 'x'.repeat(125)] }],
    ['126 bytes: 16-bit length', { given: ['x'.repeat(126)], want: [[0x81, 126, 0, 126], 'x'.repeat(126)] }],
    ['65535 bytes: 16-bit length', { given: ['x'.repeat(65535)], want: [[0x81, 126, 0xff, 0xff], 'x'.repeat(65535)] }],
    ['65536 bytes: 64-bit length', { given: ['x'.repeat(65536)], want: [[0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0], 'x'.repeat(65536)] }],
    ['length in bytes, not characters', { given: ['é😀'], want: [[0x81, 6], 'é😀'] }],
  ] as const)('%s', (_, { given, want }) => {
    const [head, text] = want;
    const out = textFrames(given);
    expect([...out.subarray(0, head.length)]).toEqual(head);
    // Compared as one string: an element-wise diff of 64 KiB is slow and no clearer.
    expect(out.subarray(head.length).toString() === text).toBe(true);
  });

  it('puts frames one after another, each with its own header', () => {
    expect([...textFrames(['{"a":1}', '', 'ü'])]).toEqual([0x81, 7, ...Buffer.from('{"a":1}'), 0x81, 0, 0x81, 2, 0xc3, 0xbc]);
  });

  it('a ws client reads a batch as separate messages', async () => {
    const texts = ['one', 'x'.repeat(300), 'é'.repeat(40000), ''];
    const got: string[] = [];
    await serve(descriptor({ direction: 'server-to-client' }), async function* () {
      return { type: 'done', data: null };
    });
    server!.removeAllListeners('upgrade');
    const { WebSocketServer } = await import('ws');
    const wss = new WebSocketServer({ noServer: true });
    server!.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, () => socket.write(textFrames(texts))));
    const ws = new WebSocket(`ws://127.0.0.1:${(server!.address() as AddressInfo).port}/`);
    await new Promise<void>((resolve) =>
      ws.on('message', (d, binary) => {
        expect(binary).toBe(false);
        if (got.push(d.toString()) === texts.length) resolve();
      }),
    );
    ws.terminate();
    wss.close();
    expect(got).toEqual(texts);
  });
});

describe('closeCodeFor', () => {
  const codes = ['RATE_LIMITED', 'QUOTA', 'INTERNAL', 'INVALID_REQUEST', 'RESUME_EXPIRED'];
  it.each([
    ['first contract code', { given: 'RATE_LIMITED', want: 4000 }],
    ['second contract code', { given: 'QUOTA', want: 4001 }],
    ['INTERNAL', { given: 'INTERNAL', want: 1011 }],
    ['INVALID_REQUEST', { given: 'INVALID_REQUEST', want: 4400 }],
    ['RESUME_EXPIRED', { given: 'RESUME_EXPIRED', want: 4410 }],
    ['a code the stream does not have', { given: 'OTHER', want: 1011 }],
  ])('%s', (_, { given, want }) => {
    expect(closeCodeFor(given, codes)).toBe(want);
  });
});

const none = (): Issue[] => [];
const objectWithN = (m: unknown): Issue[] => {
  const d = (m as { data?: { n?: unknown } }).data;
  return typeof d?.n === 'number' ? [] : [{ path: 'data.n', message: 'expected a number' }];
};

function descriptor(over: Partial<WebSocketDescriptor>): WebSocketDescriptor {
  return {
    name: 'upload',
    path: ['/up'],
    direction: 'client-to-server',
    validateParams: none,
    validateMessage: none,
    validateClientMessage: objectWithN,
    terminal: 'done',
    errors: { mode: 'fail-fast', codes: ['INTERNAL', 'INVALID_REQUEST', 'RESUME_EXPIRED'] },
    backpressure: { kind: 'pull', buffer: 4, credits: 4 },
    heartbeatMs: 1000,
    heartbeatTimeoutMs: 3000,
    ...over,
  };
}

let server: Server | undefined;
let router: WebSocketRouter | undefined;
afterEach(async () => {
  router?.close();
  server?.closeAllConnections();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = router = undefined;
});

async function serve(d: WebSocketDescriptor, handler: WebSocketHandler, options: WebSocketRouterOptions = {}): Promise<string> {
  router = createWebSocketRouter([d], { [d.name]: handler }, { onError: () => {}, ...options });
  server = createServer();
  router.upgrade(server);
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function call(url: string, open: object, after: (ws: WebSocket) => void = () => {}, options: WebSocket.ClientOptions = {}) {
  const ws = new WebSocket(url, [SUBPROTOCOL], options);
  const frames: { type: string; seq?: number; id?: string; data?: unknown; n?: number }[] = [];
  ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
  ws.on('open', () => {
    ws.send(JSON.stringify({ type: '$open', ...open }));
    after(ws);
  });
  const closed = new Promise<number>((resolve, reject) => {
    ws.on('close', (code, reason) => {
      closeReasonSeen = reason.toString();
      resolve(code);
    });
    ws.on('error', reject);
    setTimeout(() => reject(new Error('no close within 5 s')), 5000).unref();
  });
  let closeReasonSeen = '';
  return {
    ws,
    frames,
    closed,
    get reason() {
      return closeReasonSeen;
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const until = async (test: () => boolean) => {
  for (let i = 0; i < 500 && !test(); i++) await sleep(10);
};

describe('createWebSocketRouter', () => {
  it('client-to-server: the handler reads every client message until $end, half a window at a time', async () => {
    const url = await serve(descriptor({}), async function* ({ messages }) {
      let sum = 0;
      for await (const m of messages) sum += (m as { data: { n: number } }).data.n;
      return { type: 'done', data: { sum } };
    });
    const c = call(`${url}/up`, {}, (ws) => {
      // The first grant is `buffer` (4): send 4, then the rest as grants come.
      let seq = 0;
      const send = (k: number) => {
        for (let i = 0; i < k && seq < 10; i++) ws.send(JSON.stringify({ seq: ++seq, type: 'chunk', data: { n: seq } }));
        if (seq === 10) ws.send('{"type":"$end"}');
      };
      ws.on('message', (d) => {
        const f = JSON.parse(d.toString()) as { type: string; n?: number };
        if (f.type === '$credit') send(f.n!);
      });
    });
    expect(await c.closed).toBe(1000);
    const grants = c.frames.filter((f) => f.type === '$credit').map((f) => f.n);
    expect(grants[0]).toBe(4);
    expect(grants.slice(1).every((n) => n === 2)).toBe(true);
    expect(c.frames.filter((f) => f.seq !== undefined)).toEqual([{ seq: 1, id: expect.any(String), type: 'done', data: { sum: 55 } }]);
  });

  it('fail-fast: an invalid client message closes 1007', async () => {
    const url = await serve(descriptor({}), async function* ({ messages }) {
      for await (const _ of messages);
      return { type: 'done', data: null };
    });
    const c = call(`${url}/up`, {}, (ws) => ws.send(JSON.stringify({ seq: 1, type: 'chunk', data: {} })));
    expect(await c.closed).toBe(1007);
  });

  it('the handler sees the open frame headers merged over the upgrade headers', async () => {
    let seen: Record<string, string | null> = {};
    const url = await serve(descriptor({ direction: 'server-to-client' }), async function* ({ headers }) {
      seen = { authorization: headers.get('authorization'), protocol: headers.get('sec-websocket-protocol') };
      return { type: 'done', data: null };
    });
    const c = call(`${url}/up`, { headers: { authorization: 'Bearer t' } });
    expect(await c.closed).toBe(1000);
    expect(seen).toEqual({ authorization: 'Bearer t', protocol: SUBPROTOCOL });
  });

  it.each<[string, { auth: 'optional' | 'none' | undefined; headers: Record<string, string>; want: { code: number; principal?: unknown; asked: number } }]>([
    ['optional, no credentials: served anonymously', { auth: 'optional', headers: {}, want: { code: 1000, principal: undefined, asked: 1 } }],
    ['optional, credentials: the principal', { auth: 'optional', headers: { authorization: 'ada' }, want: { code: 1000, principal: { id: 'ada' }, asked: 1 } }],
    ['none: the hook is never asked', { auth: 'none', headers: { authorization: 'ada' }, want: { code: 1000, principal: undefined, asked: 0 } }],
    ['unsaid, with a hook: required', { auth: undefined, headers: {}, want: { code: 4401, asked: 1 } }],
  ])('auth %s', async (_, { auth, headers, want }) => {
    let asked = 0;
    const principals: unknown[] = [];
    const url = await serve(
      descriptor({ direction: 'server-to-client', ...(auth ? { auth } : {}) }),
      async function* ({ principal }) {
        principals.push(principal);
        return { type: 'done', data: null };
      },
      { authenticate: (req) => (asked++, req.headers.get('authorization') ? { id: req.headers.get('authorization') } : undefined) },
    );
    const c = call(`${url}/up`, { headers });
    expect(await c.closed).toBe(want.code);
    expect(asked).toBe(want.asked);
    expect(principals).toEqual(want.code === 1000 ? [want.principal] : []);
  });

  it('counts no anonymous callers against the per-principal limit', async () => {
    const url = await serve(
      descriptor({ direction: 'server-to-client', auth: 'optional' }),
      async function* ({ signal }) {
        await new Promise((r) => signal.addEventListener('abort', r));
        return { type: 'done', data: null };
      },
      { authenticate: () => undefined, maxStreamsPerPrincipal: 1 },
    );
    const calls = [call(`${url}/up`, {}), call(`${url}/up`, {}), call(`${url}/up`, {})];
    await new Promise((r) => setTimeout(r, 200));
    // All three still open: none was refused with 4429.
    expect(calls.map((c) => c.ws.readyState)).toEqual([WebSocket.OPEN, WebSocket.OPEN, WebSocket.OPEN]);
    for (const c of calls) c.ws.terminate();
  });

  it('close(): open connections get 1001, later upgrades 503', async () => {
    const url = await serve(descriptor({ direction: 'server-to-client' }), async function* ({ signal }) {
      await new Promise((r) => signal.addEventListener('abort', r));
      return { type: 'done', data: null };
    });
    const c = call(`${url}/up`, {});
    await new Promise((r) => c.ws.once('open', r));
    await new Promise((r) => setTimeout(r, 50));
    router!.upgrade(server!); // attaching twice is harmless
    const r = router!;
    r.close();
    expect(await c.closed).toBe(1001);
    // The router detached itself; a second router on the same server answers 503 once closed.
    const again = createWebSocketRouter([descriptor({})], { upload: async function* () {} as never }, {});
    again.close();
    const status = await new Promise<number>((resolve) => {
      server!.once('upgrade', (req, socket, head) => again.handleUpgrade(req, socket, head));
      const ws = new WebSocket(`${url}/up`, [SUBPROTOCOL]);
      ws.on('unexpected-response', (_, res) => resolve(res.statusCode!));
      ws.on('error', () => {});
    });
    expect(status).toBe(503);
  });

  it('in-band: invalid client messages free their place only once their errors go out, so a client granting nothing holds `buffer` at most', async () => {
    const url = await serve(
      descriptor({ direction: 'bidirectional', errors: { mode: 'in-band', message: 'problem', codes: ['INTERNAL', 'INVALID_REQUEST', 'RESUME_EXPIRED'] } }),
      async function* ({ messages }) {
        for await (const _ of messages);
        return { type: 'done', data: null };
      },
    );
    let sent = 0;
    const MAX = 10;
    // Sends an invalid message for every place the server grants, up to MAX, then $end.
    const c = call(`${url}/up`, { credits: 0 }, (ws) =>
      ws.on('message', (d) => {
        const f = JSON.parse(d.toString()) as { type: string; n?: number };
        if (f.type !== '$credit') return;
        for (let i = 0; i < f.n! && sent < MAX; i++) ws.send(JSON.stringify({ seq: ++sent, type: 'chunk', data: {} }));
        if (sent === MAX) ws.send('{"type":"$end"}');
      }),
    );
    await sleep(300);
    // No credit for the server: its errors wait, and so does every further grant.
    expect(sent).toBe(4);
    expect(c.frames.filter((f) => f.type === '$credit').map((f) => f.n)).toEqual([4]);
    c.ws.send('{"type":"$credit","n":100}');
    expect(await c.closed).toBe(1000);
    const numbered = c.frames.filter((f) => f.seq !== undefined);
    expect(numbered.map((f) => f.type)).toEqual([...Array(MAX).fill('problem'), 'done']);
    expect((numbered[0]!.data as { code: string }).code).toBe('INVALID_REQUEST');
  });

  it.each<[string, { given: () => unknown; want: { code: number; reason: string } }]>([
    ['a contract code', { given: () => new StreamError('RATE_LIMITED', 'slow down'), want: { code: 4000, reason: 'RATE_LIMITED: slow down' } }],
    ['a server failure', { given: () => new Error('boom'), want: { code: 1011, reason: 'INTERNAL: internal error' } }],
  ])('out-of-band: a resume after %s is answered with the same close, not 1000', async (_, { given, want }) => {
    const url = await serve(
      descriptor({
        direction: 'server-to-client',
        errors: { mode: 'out-of-band', codes: ['RATE_LIMITED', 'INTERNAL', 'INVALID_REQUEST', 'RESUME_EXPIRED'] },
        resume: { messages: 10 },
      }),
      async function* () {
        yield { type: 'tick', data: { n: 1 } };
        throw given();
      },
    );
    const first = call(`${url}/up`, {});
    expect(await first.closed).toBe(want.code);
    expect(first.reason).toBe(want.reason);
    const last = first.frames.find((f) => f.seq === 1)!;
    // As if that close frame had been lost (1006): the client resumes from its last message.
    const again = call(`${url}/up`, { resume: last.id });
    expect(await again.closed).toBe(want.code);
    expect(again.reason).toBe(want.reason);
    expect(again.frames).toEqual([]);
  });

  describe('an open frame with bad headers is refused before anything else happens', () => {
    const d = descriptor({ direction: 'server-to-client', resume: { messages: 10 } });
    let aborted = 0;
    const waiting: WebSocketHandler = async function* ({ signal }) {
      yield { type: 'tick', data: { n: 1 } };
      await new Promise((r) => signal.addEventListener('abort', r));
      aborted++;
      return { type: 'done', data: null };
    };
    const running = async (url: string) => {
      const a = call(`${url}/up`, {});
      await until(() => a.frames.some((f) => f.seq === 1));
      return { a, id: a.frames.find((f) => f.seq === 1)!.id! };
    };

    it('a resume of a live instance does not take it over', async () => {
      aborted = 0;
      const url = await serve(d, waiting);
      const { a, id } = await running(url);
      const b = call(`${url}/up`, { resume: id, headers: { 'bad name': 'x' } });
      expect(await b.closed).toBe(1002);
      await sleep(100);
      expect(a.ws.readyState).toBe(WebSocket.OPEN);
      expect(aborted).toBe(0);
    });

    it('a new call registers no instance (which could evict a live one)', async () => {
      const url = await serve(d, waiting, { maxInstances: 1 });
      const { a, id } = await running(url);
      const b = call(`${url}/up`, { headers: { 'bad name': 'x' } });
      expect(await b.closed).toBe(1002);
      // The live instance is still the one retained: its resume takes over (1001 for the old connection).
      const c = call(`${url}/up`, { resume: id });
      expect(await a.closed).toBe(1001);
      expect(c.ws.readyState).toBe(WebSocket.OPEN);
      c.ws.terminate();
    });
  });

  describe('heartbeat timeout', () => {
    const waiting: WebSocketHandler = async function* ({ signal }) {
      await new Promise((r) => signal.addEventListener('abort', r));
      return { type: 'done', data: null };
    };

    it('a peer that answers no ping is cut off at the timeout, not at the next ping after it', async () => {
      // Pings at 1 s; the old check at ping ticks would cut it at 2 s.
      const url = await serve(descriptor({ direction: 'server-to-client', heartbeatMs: 1000, heartbeatTimeoutMs: 1100 }), waiting);
      const started = performance.now();
      const c = call(`${url}/up`, {}, () => {}, { autoPong: false });
      expect(await c.closed).toBe(1006);
      const took = performance.now() - started;
      expect(took).toBeGreaterThanOrEqual(1000);
      expect(took).toBeLessThan(1700);
    });

    it('a peer that answers pings stays past the timeout', async () => {
      const url = await serve(descriptor({ direction: 'server-to-client', heartbeatMs: 100, heartbeatTimeoutMs: 300 }), waiting);
      const c = call(`${url}/up`, {});
      await sleep(800);
      expect(c.ws.readyState).toBe(WebSocket.OPEN);
      c.ws.close();
      await c.closed;
    });
  });

  describe('conformanceControl', () => {
    const get = async (base: string, path: string) => {
      const res = await fetch(base + path);
      return { status: res.status, body: (await res.json().catch(() => undefined)) as unknown };
    };
    /** A server whose own listener answers 426, with the router attached after it. */
    async function start(conformanceControl: boolean, handler: WebSocketHandler) {
      const d = descriptor({ direction: 'server-to-client' });
      router = createWebSocketRouter([d], { [d.name]: handler }, { onError: () => {}, conformanceControl });
      server = createServer((_, res) => res.writeHead(426, { 'content-type': 'application/json' }).end('{"code":"UPGRADE_REQUIRED"}'));
      router.upgrade(server);
      await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
      return `127.0.0.1:${(server.address() as AddressInfo).port}`;
    }
    const waiting: WebSocketHandler = async function* ({ signal }) {
      yield { type: 'tick', data: { n: 1 } };
      await new Promise((r) => signal.addEventListener('abort', r));
      return { type: 'done', data: null };
    };

    it('answers the control endpoint on the upgrade port; every other request still reaches the server', async () => {
      const host = await start(true, waiting);
      const c = call(`ws://${host}/up`, {});
      while (!c.frames.some((f) => f.seq === 1)) await new Promise((r) => setTimeout(r, 10));
      const id = String((c.frames.find((f) => f.seq === 1) as { id?: string }).id).split('.')[0]!;
      expect(await get(`http://${host}`, `${CONTROL_PATH}/instances/${id}`)).toEqual({
        status: 200,
        body: { stream: 'upload', handler: 'running', pulled: 1, queued: 0, maxQueued: 1 },
      });
      expect((await get(`http://${host}`, `${CONTROL_PATH}/instances/unknown`)).status).toBe(404);
      expect(await get(`http://${host}`, '/anything')).toEqual({ status: 426, body: { code: 'UPGRADE_REQUIRED' } });
      // An abandoned consumer: the socket destroyed without a close frame stops the handler.
      c.ws.terminate();
      await c.closed;
      for (let i = 0; i < 100 && ((await get(`http://${host}`, `${CONTROL_PATH}/instances/${id}`)).body as { handler: string }).handler !== 'done'; i++)
        await new Promise((r) => setTimeout(r, 10));
      expect(((await get(`http://${host}`, `${CONTROL_PATH}/instances/${id}`)).body as { handler: string }).handler).toBe('done');
      // close() puts the server's own listener back in front.
      router!.close();
      expect((await get(`http://${host}`, `${CONTROL_PATH}/instances/${id}`)).status).toBe(426);
      expect(server!.listeners('request')).toHaveLength(1);
    });

    it('is off by default: the control path is the server\'s own', async () => {
      const host = await start(false, waiting);
      expect((await get(`http://${host}`, `${CONTROL_PATH}/instances/x`)).status).toBe(426);
    });
  });
});
