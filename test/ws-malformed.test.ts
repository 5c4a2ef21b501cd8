// Bad input over WebSocket, driven by npm `ws` (a client nobody here wrote): every malformed,
// oversized, binary or unknown frame gets the close code docs/websocket.md documents, refused
// upgrades get their HTTP status, and the server keeps serving the connections that behave.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHandlers, demoAuthenticate } from '../examples/room/handlers.ts';
import type * as Room from '../generated/room/server.ts';
import { StreamError } from '../templates/runtime/errors.ts';
import { removeWorkDirs } from './support/tools.ts';
import { closeWithin, connect, generateWs, JOBS_CONTRACT, listenWs, loadServer, sleep, type Peer, type WsListening } from './ws-harness.ts';

// Generated from the test contract; its types are structural, so the handlers are typed loosely.
interface JobsServer {
  createRouter(handlers: Record<string, (ctx: any) => AsyncGenerator<any, any, void>>, options?: Room.WebSocketRouterOptions): ReturnType<typeof Room.createRouter>;
  StreamError: typeof StreamError;
}

let Rooms: typeof Room;
let Jobs: JobsServer;
beforeAll(async () => {
  Rooms = await loadServer<typeof Room>(generateWs('ws-malformed-room', 'spec/room.yaml'));
  Jobs = await loadServer<JobsServer>(generateWs('ws-malformed-jobs', 'jobs.yaml', JOBS_CONTRACT));
});
afterAll(removeWorkDirs);

let server: WsListening | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const ROOM = '/v1/rooms/lobby';
const OPEN = { request: { displayName: 'ada' } };

async function roomServer(options: Room.WebSocketRouterOptions = {}): Promise<WsListening> {
  server = await listenWs(Rooms.createRouter(createHandlers({ backlog: 2 }), { authenticate: demoAuthenticate, onError: () => {}, ...options }));
  return server;
}

/** A connection that behaves: says one thing and gets its answer. */
async function wellBehaved(base: string): Promise<void> {
  const p = await connect(`${base}${ROOM}`, { open: OPEN });
  await p.until((f) => f.some((x) => x.type === '$credit'));
  p.send({ seq: 1, type: 'say', data: { text: 'still here' } });
  await p.until((f) => f.some((x) => x.type === 'said' && x.data.text === 'still here'));
  p.ws.close();
}

describe('frames that break the protocol', () => {
  it.each<[string, { send: (p: Peer) => void; opened: boolean; code: number }]>([
    ['not JSON', { send: (p) => p.send('{"type":'), opened: true, code: 1007 }],
    ['a binary frame', { send: (p) => p.ws.send(Buffer.from('{"type":"$credit","n":1}')), opened: true, code: 1003 }],
    ['an unknown $ frame type', { send: (p) => p.send({ type: '$hello' }), opened: true, code: 1002 }],
    ['JSON that is not an object', { send: (p) => p.send('[1,2]'), opened: true, code: 1002 }],
    ['a first frame that is not $open', { send: (p) => p.send({ type: '$credit', n: 1 }), opened: false, code: 1002 }],
    ['a second $open', { send: (p) => p.send({ type: '$open', ...OPEN }), opened: true, code: 1002 }],
    ['a client seq gap', { send: (p) => p.send({ seq: 2, type: 'say', data: { text: 'x' } }), opened: true, code: 1002 }],
    ['a $credit without a positive n', { send: (p) => p.send({ type: '$credit', n: 0 }), opened: true, code: 1002 }],
    ['a frame over the 1 MiB limit', { send: (p) => p.send({ seq: 1, type: 'say', data: { text: 'x'.repeat(1024 * 1024) } }), opened: true, code: 1009 }],
  ])('%s: close %s... and the server keeps serving', async (_, { send, opened, code }) => {
    const { base } = await roomServer();
    const other = await connect(`${base}${ROOM}`, { open: OPEN });
    const p = await connect(`${base}${ROOM}`, opened ? { open: OPEN } : {});
    if (opened) await p.until((f) => f.some((x) => x.type === '$credit'));
    send(p);
    expect((await closeWithin(p)).code).toBe(code);
    // The connection that was already open and a new one both still work.
    other.send({ seq: 1, type: 'say', data: { text: 'hello' } });
    await other.until((f) => f.some((x) => x.type === 'said' && x.data.text === 'hello'));
    await wellBehaved(base);
  });

  it('client messages beyond the server grant: close 1008', async () => {
    const { base } = await roomServer();
    const p = await connect(`${base}${ROOM}`, { open: OPEN });
    await p.until((f) => f.some((x) => x.type === '$credit'));
    const grant = p.frames.find((x) => x.type === '$credit')!.n!;
    expect(grant).toBe(256); // spec/room.yaml: buffer 256
    // All at once, faster than the handler can take them and earn a new grant.
    for (let i = 1; i <= grant + 1; i++) p.send({ seq: i, type: 'startTyping', data: {} });
    expect((await closeWithin(p)).code).toBe(1008);
  });

  it('no open frame in time: close 4408', async () => {
    const { base } = await roomServer({ openTimeoutMs: 100 });
    const p = await connect(`${base}${ROOM}`);
    const t0 = performance.now();
    expect(await closeWithin(p)).toEqual({ code: 4408, reason: 'no open frame in time' });
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(p.frames).toEqual([]);
  });
});

describe('the open frame', () => {
  it('an invalid request and params: $error with every issue, then close 4400', async () => {
    const { base } = await roomServer();
    const p = await connect(`${base}/v1/rooms/NO`, { open: { request: { displayName: 7 } } });
    const closed = await closeWithin(p);
    expect(closed.code).toBe(4400);
    expect(closed.reason).toMatch(/^INVALID_REQUEST: params\.roomId: /);
    expect(p.frames).toEqual([
      {
        type: '$error',
        data: {
          code: 'INVALID_REQUEST',
          message: expect.stringContaining('request.displayName'),
          retryable: false,
          issues: [
            { path: 'params.roomId', message: expect.any(String) },
            { path: 'request.displayName', message: expect.any(String) },
          ],
        },
      },
    ]);
  });

  it('a malformed open frame (credits not a number): close 1002', async () => {
    const { base } = await roomServer();
    const p = await connect(`${base}${ROOM}`, { open: { ...OPEN, credits: 'many' } });
    expect((await closeWithin(p)).code).toBe(1002);
  });
});

describe('invalid client messages', () => {
  it('in-band (spec/room.yaml): the contract error message, numbered, and the stream goes on', async () => {
    const { base } = await roomServer();
    const p = await connect(`${base}${ROOM}`, { open: OPEN });
    await p.until((f) => f.some((x) => x.type === '$credit'));
    p.send({ seq: 1, type: 'say', data: { text: '' } });
    p.send({ seq: 2, type: 'shout', data: {} });
    p.send({ seq: 3, type: 'say', data: { text: 'ok' } });
    await p.until((f) => f.some((x) => x.type === 'said' && x.data.text === 'ok'));
    const problems = p.frames.filter((x) => x.type === 'problem').map((x) => x.data);
    expect(problems).toEqual([
      { code: 'INVALID_REQUEST', message: expect.stringMatching(/^client message 1: data\.text: /), retryable: false },
      { code: 'INVALID_REQUEST', message: expect.stringMatching(/^client message 2: /), retryable: false },
    ]);
    expect(p.numbered().map((x) => x.seq)).toEqual(p.numbered().map((_, i) => i + 1));
    p.send({ type: '$end' });
    expect((await closeWithin(p)).code).toBe(1000);
    expect(p.numbered().at(-1)).toMatchObject({ type: 'closed', data: { reason: 'left' } });
  });

  it('out-of-band: close 1007 with the issue as reason', async () => {
    server = await listenWs(Jobs.createRouter(jobHandlers(), { onError: () => {} }));
    const p = await connect(`${server.base}/v1/jobs/j1`, { open: { request: { mode: 'echo' } } });
    await p.until((f) => f.some((x) => x.type === '$credit'));
    p.send({ seq: 1, type: 'nudge', data: { n: -1 } });
    const closed = await closeWithin(p);
    expect(closed.code).toBe(1007);
    expect(closed.reason).toMatch(/^client message 1: data\.n: /);
  });
});

describe('refused upgrades', () => {
  it.each<[string, { path: string; protocols?: string[]; origin?: string; cors?: Room.WebSocketRouterOptions['cors']; status: number }]>([
    ['an origin not on the allow-list', { path: ROOM, origin: 'https://evil.example', cors: { origin: ['https://app.example'] }, status: 403 }],
    ['a cross-site origin with no allow-list', { path: ROOM, origin: 'https://evil.example', status: 403 }],
    ['no streamspec.v1 subprotocol', { path: ROOM, protocols: ['chat'], status: 400 }],
    ['a path without a stream', { path: '/v1/nope', status: 404 }],
  ])('%s: %s', async (_, { path, protocols, origin, cors, status }) => {
    const { base } = await roomServer(cors ? { cors } : {});
    const e = await connect(`${base}${path}`, { ...(protocols ? { protocols } : {}), ...(origin ? { origin } : {}) }).catch((x: unknown) => x);
    expect(e).toMatchObject({ status });
    await wellBehaved(base);
  });

  it.each<[string, { origin: string; cors?: Room.WebSocketRouterOptions['cors'] }]>([
    ['an origin on the allow-list', { origin: 'https://app.example', cors: { origin: ['https://app.example'] } }],
    ['any origin with *', { origin: 'https://elsewhere.example', cors: { origin: '*' } }],
  ])('accepts %s', async (_, { origin, cors }) => {
    const { base } = await roomServer(cors ? { cors } : {});
    const p = await connect(`${base}${ROOM}`, { origin, open: OPEN });
    await p.until((f) => f.some((x) => x.type === 'joined'));
  });

  it('accepts the same origin without an allow-list', async () => {
    const { base } = await roomServer();
    const p = await connect(`${base}${ROOM}`, { origin: base.replace('ws:', 'http:'), open: OPEN });
    await p.until((f) => f.some((x) => x.type === 'joined'));
  });
});

function jobHandlers(): Record<string, (ctx: any) => AsyncGenerator<any, any, void>> {
  return {
    async *job({ request, messages }) {
      yield { type: 'progress', data: { n: 1 } };
      if (request.mode === 'fail') throw new Jobs.StreamError('QUOTA_EXCEEDED', 'over quota: é'.repeat(20));
      if (request.mode === 'crash') throw new Error('secret detail');
      if (request.mode === 'echo') for await (const m of messages) yield { type: 'progress', data: { n: m.data.n } };
      return { type: 'done', data: null };
    },
    async *feed() {
      yield { type: 'item', data: { n: 1 } };
      throw new Jobs.StreamError('GONE', 'the feed is gone', { retryable: true });
    },
  };
}

describe('errors', () => {
  it.each<[string, { mode: string; code: number; reason: RegExp; reported: boolean }]>([
    ['a contract code: 4000 + its index, reason CODE: message cut to 123 bytes', { mode: 'fail', code: 4001, reason: /^QUOTA_EXCEEDED: over quota: é/, reported: false }],
    ['any other throw: 1011 INTERNAL, no detail, reported', { mode: 'crash', code: 1011, reason: /^INTERNAL: internal error$/, reported: true }],
  ])('out-of-band, %s', async (_, { mode, code, reason, reported }) => {
    const errors: unknown[] = [];
    server = await listenWs(Jobs.createRouter(jobHandlers(), { onError: (e) => errors.push(e) }));
    const p = await connect(`${server.base}/v1/jobs/j1`, { open: { request: { mode } } });
    const closed = await closeWithin(p);
    expect(closed.code).toBe(code);
    expect(closed.reason).toMatch(reason);
    expect(Buffer.byteLength(closed.reason)).toBeLessThanOrEqual(123);
    // No $error frame: the close code is the error.
    expect(p.numbered().map((f) => f.type)).toEqual(['progress']);
    expect(errors.length > 0).toBe(reported);
  });

  it('fail-fast: a numbered $error frame, then close 1000', async () => {
    server = await listenWs(Jobs.createRouter(jobHandlers(), { onError: () => {} }));
    const p = await connect(`${server.base}/v1/feed`, { open: {} });
    expect((await closeWithin(p)).code).toBe(1000);
    expect(p.numbered().map(({ seq, type, data }) => ({ seq, type, data }))).toEqual([
      { seq: 1, type: 'item', data: { n: 1 } },
      { seq: 2, type: '$error', data: { code: 'GONE', message: 'the feed is gone', retryable: true } },
    ]);
  });

  it('a server-to-client stream grants no client messages: one is beyond the grant (1008)', async () => {
    server = await listenWs(Jobs.createRouter({ ...jobHandlers(), async *feed({ signal }) { await sleep(5000); signal.throwIfAborted(); return { type: 'end', data: null }; } }, { onError: () => {} }));
    const p = await connect(`${server.base}/v1/feed`, { open: {} });
    await sleep(50);
    expect(p.frames.filter((f) => f.type === '$credit')).toEqual([]);
    p.send({ seq: 1, type: 'item', data: { n: 1 } });
    expect((await closeWithin(p)).code).toBe(1008);
  });
});
