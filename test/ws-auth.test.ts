// Authentication over WebSocket end to end: the generated room server (spec/room.yaml says
// `auth: required`) with an `authenticate` hook, driven by npm `ws` speaking docs/websocket.md by
// hand and by the generated client in Node. Nobody reads a stream without credentials or a stream
// another principal opened; tokens refreshed at a reconnect are the ones used; one principal
// cannot open streams without bound.

import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket as NodeWebSocket } from 'ws';
import { createHandlers, type RoomUser } from '../examples/room/handlers.ts';
import { createClient, StreamError } from '../generated/room/client.ts';
import { createRouter, type AuthRequest, type RoomHandlers, type WebSocketRouterOptions } from '../generated/room/server.ts';
import { collect, sleep, within } from './http-harness.ts';
import { closeWithin, connect, listenWs, until, type WsListening } from './ws-harness.ts';

let server: WsListening | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Bearer tokens the test server accepts; a test revokes one by deleting it. */
const tokens = new Map<string, RoomUser>();
afterEach(() => tokens.clear());

const ROOM = '/v1/rooms/auth-room';
const OPEN = { request: { displayName: 'ada' } };
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** The generated room server with a token hook; records what the hook saw and each handler call's principal. */
async function serve(options: Partial<WebSocketRouterOptions<RoomUser>> = {}, room: { backlog?: number; delayMs?: number } = {}) {
  const seen: AuthRequest[] = [];
  const principals: unknown[] = [];
  const inner = createHandlers(room);
  const handlers: RoomHandlers<RoomUser> = { room: (ctx) => (principals.push(ctx.principal), inner.room(ctx)) };
  server = await listenWs(
    createRouter(handlers, {
      async authenticate(req) {
        seen.push(req);
        const header = req.headers.get('authorization');
        if (!header) return undefined;
        const user = tokens.get(header.replace(/^Bearer /, ''));
        if (!user) throw new StreamError('UNAUTHENTICATED', 'token expired or unknown');
        return user;
      },
      onError: () => {},
      ...options,
    }),
  );
  return { srv: server, seen, principals, url: `${server.base}${ROOM}` };
}

/** The generated client in Node (npm `ws` injected), counting the connections it makes. */
function client(base: string, headers: () => Record<string, string>) {
  let sockets = 0;
  class Counting extends NodeWebSocket {
    constructor(url: string, protocols: string) {
      super(url, protocols);
      sockets++;
    }
  }
  const c = createClient({ baseUrl: base, WebSocket: Counting, maxRetryMs: 20, headers });
  return { c, sockets: () => sockets };
}

describe('createRouter', () => {
  it('without the hook, refuses a contract whose stream says auth: required', () => {
    expect(() => createRouter(createHandlers())).toThrow(
      'streamspec: stream "room" requires authentication (auth: required in the contract), but createRouter was given no authenticate hook.',
    );
  });

  it('types ctx.principal as what authenticate returns (checked by tsc over the tests)', async () => {
    const plans: string[] = [];
    server = await listenWs(
      createRouter(
        {
          async *room(ctx) {
            const plan: 'free' | 'pro' = ctx.principal.plan;
            // @ts-expect-error the principal is the hook's type, not a string
            const wrong: string = ctx.principal;
            plans.push(plan, typeof wrong);
            return { type: 'closed', data: { reason: 'left' } };
          },
        },
        { authenticate: async () => ({ id: 'ada', plan: 'pro' as const }) },
      ),
    );
    const p = await connect(`${server.base}${ROOM}`, { open: OPEN });
    expect((await closeWithin(p)).code).toBe(1000);
    expect(plans).toEqual(['pro', 'object']);
  });
});

describe('rejections', () => {
  it('no credentials: close 4401 before any frame; the client asks its headers again once, then StreamError UNAUTHENTICATED', async () => {
    const { url, srv, principals } = await serve();
    const raw = await connect(url, { open: OPEN });
    expect(await closeWithin(raw)).toEqual({ code: 4401, reason: 'UNAUTHENTICATED: stream room requires authentication' });
    expect(raw.frames).toEqual([]);

    let asked = 0;
    const { c, sockets } = client(srv.base, () => (asked++, {}));
    const { got, err } = await collect(c.room({ params: { roomId: 'auth-room' }, request: { displayName: 'ada' } }), 5000);
    expect(got).toEqual([]);
    expect(err).toBeInstanceOf(StreamError);
    expect((err as StreamError).code).toBe('UNAUTHENTICATED');
    // One retry with headers asked for again, then stopped: never a retry loop.
    expect(asked).toBe(2);
    expect(sockets()).toBe(2);
    expect(principals).toEqual([]);
  });

  it.each<[string, { hook: () => never; want: { code: number; reason: string }; wantCode: string; asked: number }]>([
    [
      'UNAUTHENTICATED thrown: 4401, retried once',
      { hook: () => { throw new StreamError('UNAUTHENTICATED', 'token expired'); }, want: { code: 4401, reason: 'UNAUTHENTICATED: token expired' }, wantCode: 'UNAUTHENTICATED', asked: 2 },
    ],
    [
      'PERMISSION_DENIED thrown: 4403, not retried',
      { hook: () => { throw new StreamError('PERMISSION_DENIED', 'suspended'); }, want: { code: 4403, reason: 'PERMISSION_DENIED: suspended' }, wantCode: 'PERMISSION_DENIED', asked: 1 },
    ],
  ])('%s', async (_, { hook, want, wantCode, asked: wantAsked }) => {
    const errors: unknown[] = [];
    const { url, srv, principals } = await serve({ authenticate: hook, onError: (e) => errors.push(e) });
    const raw = await connect(url, { open: { ...OPEN, headers: bearer('t') } });
    expect(await closeWithin(raw)).toEqual(want);
    expect(raw.frames).toEqual([]);

    let asked = 0;
    const { c } = client(srv.base, () => (asked++, bearer('t')));
    const { got, err } = await collect(c.room({ params: { roomId: 'auth-room' }, request: { displayName: 'ada' } }), 5000);
    expect(got).toEqual([]);
    expect((err as StreamError).code).toBe(wantCode);
    expect(asked).toBe(wantAsked);
    expect(principals).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('any other throw from the hook is a server fault: 1011 without its detail or a code, so clients retry it as a 500', async () => {
    const errors: unknown[] = [];
    let calls = 0;
    // Down for the first two calls (an auth backend's blip), then back.
    const hook = () => {
      if (++calls <= 2) throw new Error('db down');
      return { id: 'u-ada' };
    };
    const { url, srv } = await serve({ authenticate: hook, onError: (e) => errors.push(e) });
    const raw = await connect(url, { open: { ...OPEN, headers: bearer('t') } });
    expect(await closeWithin(raw)).toEqual({ code: 1011, reason: 'internal error' });
    expect(raw.frames).toEqual([]);
    // The generated client retries, and the third connect (the hook back up) opens the stream.
    const { c } = client(srv.base, () => bearer('t'));
    const ac = new AbortController();
    const first = await within(
      (async () => {
        for await (const m of c.room({ params: { roomId: 'auth-room' }, request: { displayName: 'ada' }, signal: ac.signal })) return m;
        return undefined;
      })(),
      8000,
      'first message after the hook came back',
    );
    ac.abort();
    expect(first?.id).toMatch(/^[\w-]{22}\.1$/);
    expect(errors.map((e) => (e as Error).message)).toEqual(['db down', 'db down']);
  });

  it('comes before the request is validated: an unknown caller learns nothing of the contract', async () => {
    const { url } = await serve();
    const raw = await connect(url, { open: { request: { displayName: 42 } } });
    expect((await closeWithin(raw)).code).toBe(4401);
    expect(raw.frames).toEqual([]);
  });
});

describe('what the hook sees', () => {
  it("the upgrade's headers with the open frame's merged over them, cookies, query, remote address and the resume id", async () => {
    tokens.set('ada-1', { id: 'ada' });
    const { srv, seen, principals } = await serve();
    const ws = new NodeWebSocket(`${srv.base}${ROOM}?tenant=t1`, 'streamspec.v1', {
      headers: { authorization: 'Bearer from-upgrade', cookie: 'sid=abc%20d; theme=dark', 'x-upgrade': 'kept' },
    });
    await new Promise((r) => ws.once('open', r));
    const closed = new Promise<number>((r) => ws.once('close', r));
    ws.send(JSON.stringify({ type: '$open', ...OPEN, headers: bearer('ada-1'), credits: 8 }));
    await until(() => principals.length === 1, 5000, 'handler call');
    ws.send(JSON.stringify({ type: '$end' }));
    expect(await closed).toBe(1000);

    const req = seen[0]!;
    expect(req.stream).toBe('room');
    expect(req.headers.get('authorization')).toBe('Bearer ada-1');
    expect(req.headers.get('x-upgrade')).toBe('kept');
    expect(req.cookies).toEqual({ sid: 'abc d', theme: 'dark' });
    expect(req.query.get('tenant')).toBe('t1');
    expect(req.remoteAddress).toBe('127.0.0.1');
    expect(req.resumeFrom).toBeUndefined();
    expect(principals).toEqual([{ id: 'ada' }]);
  });

  it('frames sent while a slow hook runs are handled once the stream opens, in order', async () => {
    tokens.set('ada-1', { id: 'ada' });
    const { url } = await serve({
      authenticate: async (req) => {
        await sleep(100);
        return tokens.get(req.headers.get('authorization')!.replace(/^Bearer /, ''));
      },
    });
    const p = await connect(url, { open: { ...OPEN, headers: bearer('ada-1') } });
    p.send({ type: '$end' });
    expect((await closeWithin(p)).code).toBe(1000);
    expect(p.numbered().map((f) => f.type)).toEqual(['joined', 'left', 'closed']);
    expect(p.numbered()[0]!.data).toEqual({ userId: 'ada', displayName: 'ada' });
  });
});

describe('resume is bound to the principal', () => {
  it("another principal's resume id: close 4403 and no frames, from raw ws and the generated client; the owner still resumes", async () => {
    tokens.set('ada-1', { id: 'ada' }).set('bo-1', { id: 'bo' });
    const { url, srv, seen } = await serve({}, { backlog: 20, delayMs: 5 });
    const ada = await connect(url, { open: { ...OPEN, headers: bearer('ada-1') }, window: 32 });
    await ada.until((f) => f.filter((x) => x.seq).length >= 3);
    ada.ws.terminate();
    const id = ada.numbered().at(-1)!.id!;

    const bo = await connect(url, { open: { ...OPEN, resume: id, headers: bearer('bo-1') } });
    expect(await closeWithin(bo)).toEqual({ code: 4403, reason: 'PERMISSION_DENIED: stream room was opened by another principal' });
    expect(bo.frames).toEqual([]);
    expect(seen.at(-1)!.resumeFrom).toBe(id);

    let asked = 0;
    const { c, sockets } = client(srv.base, () => (asked++, bearer('bo-1')));
    const { got, err } = await collect(c.room({ params: { roomId: 'auth-room' }, request: { displayName: 'bo' }, resumeFrom: id }), 5000);
    expect(got).toEqual([]);
    expect((err as StreamError).code).toBe('PERMISSION_DENIED');
    expect([asked, sockets()]).toEqual([1, 1]);

    // Nobody at all (no credentials) is refused before the id is even looked at.
    const anon = await connect(url, { open: { ...OPEN, resume: id } });
    expect((await closeWithin(anon)).code).toBe(4401);

    const again = await connect(url, { open: { ...OPEN, resume: id, headers: bearer('ada-1') }, window: 32 });
    await again.until((f) => f.filter((x) => x.seq).length >= 21 - 3, 5000, 'the rest of the backlog');
    again.send({ type: '$end' });
    expect((await closeWithin(again)).code).toBe(1000);
    const all = [...ada.numbered().slice(0, 3), ...again.numbered()];
    expect(all.map((f) => f.seq)).toEqual(Array.from({ length: 23 }, (_, i) => i + 1));

    // Ended now: still 4403 for another principal, who learns nothing of its state (not 1000).
    const late = await connect(url, { open: { ...OPEN, resume: all.at(-1)!.id, headers: bearer('bo-1') } });
    expect((await closeWithin(late)).code).toBe(4403);
    expect(late.frames).toEqual([]);
  });
});

describe('reconnect', () => {
  it('the headers function is asked at every connect: a refreshed token is used, a stale one gets one 4401 and a fresh ask', async () => {
    tokens.set('ada-1', { id: 'ada' });
    const { srv, seen, principals } = await serve({}, { backlog: 30, delayMs: 5 });
    // The first token, then (after a revoke) the stale one once more, then the refreshed one.
    const handed = ['ada-1', 'ada-1', 'ada-2'];
    let asked = 0;
    const { c, sockets } = client(srv.base, () => bearer(handed[Math.min(asked++, handed.length - 1)]!));
    const call = c.room({ params: { roomId: 'auth-room' }, request: { displayName: 'ada' } });
    const { got, err } = await collect(call, 10_000, (m) => {
      if (m.type === 'said' && m.data.messageId === 'auth-room-4') {
        // The token expires and the connection drops: the client must come back with a new one.
        tokens.delete('ada-1');
        tokens.set('ada-2', { id: 'ada' });
        for (const s of srv.sockets) s.destroy();
      }
      if (m.type === 'said' && m.data.messageId === 'auth-room-29') call.close();
    });
    expect(err).toBeUndefined();
    expect(got.map((m) => m.type)).toEqual(['joined', ...Array(30).fill('said'), 'left', 'closed']);
    expect(got.map((m) => Number(m.id.split('.')[1]))).toEqual(Array.from({ length: 33 }, (_, i) => i + 1));
    expect(seen.map((r) => r.headers.get('authorization'))).toEqual(['Bearer ada-1', 'Bearer ada-1', 'Bearer ada-2']);
    expect(seen.map((r) => r.resumeFrom === undefined)).toEqual([true, false, false]);
    expect([asked, sockets()]).toEqual([3, 3]);
    // One handler call per accepted connection, each with the refreshed principal.
    expect(principals).toEqual([{ id: 'ada' }, { id: 'ada' }]);
  });
});

describe('per-principal stream limit', () => {
  it('one stream over maxStreamsPerPrincipal: close 4429 and no frames; not retried; others and resumes unaffected; a closed stream frees its place', async () => {
    tokens.set('ada-1', { id: 'ada' }).set('bo-1', { id: 'bo' });
    const { url, srv, principals } = await serve({ maxStreamsPerPrincipal: 2 });
    const open = (token: string, extra: Record<string, unknown> = {}) =>
      connect(url, { open: { ...OPEN, headers: bearer(token), ...extra }, window: 32 });
    const first = await open('ada-1');
    const second = await open('ada-1');
    await first.until((f) => f.some((x) => x.type === 'joined'));
    await second.until((f) => f.some((x) => x.type === 'joined'));

    const third = await open('ada-1');
    expect(await closeWithin(third)).toEqual({ code: 4429, reason: 'RESOURCE_EXHAUSTED: at most 2 streams may be open at once for one principal' });
    expect(third.frames).toEqual([]);

    let asked = 0;
    const { c, sockets } = client(srv.base, () => (asked++, bearer('ada-1')));
    const { got, err } = await collect(c.room({ params: { roomId: 'auth-room' }, request: { displayName: 'ada' } }), 5000);
    expect(got).toEqual([]);
    expect((err as StreamError).code).toBe('RESOURCE_EXHAUSTED');
    expect([asked, sockets()]).toEqual([1, 1]);

    // Another principal has its own count.
    const bo = await open('bo-1');
    await bo.until((f) => f.some((x) => x.type === 'joined'));
    // A resume that takes over one of ada's own streams is not one more.
    const takeover = await open('ada-1', { resume: first.numbered()[0]!.id });
    expect((await closeWithin(first)).code).toBe(1001);
    takeover.send({ type: '$end' });
    expect((await closeWithin(takeover)).code).toBe(1000);
    // Ended: its place is free again.
    const fourth = await open('ada-1');
    await fourth.until((f) => f.some((x) => x.type === 'joined'));
    expect(principals).toEqual([{ id: 'ada' }, { id: 'ada' }, { id: 'bo' }, { id: 'ada' }, { id: 'ada' }]);
  });
});
