// The WebSocket transport end to end, on 127.0.0.1, against the generated room server
// (generated/room/server.ts): Chromium's native WebSocket speaking docs/websocket.md by hand
// (typed frames, close codes); the generated client bundled with esbuild and run inside Chromium
// (exact messages, resume after the server kills the connection, typed errors, send/close,
// AbortSignal); and the same client in Node with npm `ws` injected (credit stops the server).

import type { Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
// Renamed: page functions below use the browser's own `WebSocket`, and must not capture this one.
import { WebSocket as NodeWebSocket } from 'ws';
import { demoAuthenticate } from '../../examples/room/handlers.ts';
import { createRouter, StreamError, type RoomHandlers, type RoomYield } from '../../generated/room/server.ts';
import type { RoomClientMessage, RoomMessage, RoomParams, RoomRequest } from '../../generated/room/types.ts';
import type { StreamCallOptions } from '../../templates/runtime/client.ts';
import type { WsClientOptions, WsStreamCall } from '../../templates/runtime/ws-client.ts';
import { bundleForBrowser, launchChromium, startServer, waitFor, type TestServer } from '../support/browser.ts';
import { ROOT } from '../support/tools.ts';

const ROOM = '/v1/rooms/';
const SENT_AT = '2024-05-01T12:00:00Z';
const said = (i: number, text = `m${i}`): RoomYield => ({
  type: 'said',
  data: { messageId: `m${i}`, author: { userId: 'u1', displayName: 'ada' }, text, sentAt: SENT_AT },
});

interface Calls {
  /** resumeFrom of every handler call, in order. */
  readonly resumes: (number | undefined)[];
  /** The `x-call` header (from the client's headers function, in the open frame) of every call. */
  readonly headers: (string | null)[];
  /** Handler calls whose signal fired. */
  aborted: number;
}

/**
 * Room handlers driven by the request's displayName: `count:N` yields N messages (from where a
 * resume left off) then `closed`; `kill:N:K` does the same but the server drops the connection
 * (no close frame) after message K of the first call; `echo` answers each `say` until the client
 * half-closes; `forever` yields until aborted; `fail` throws a contract error.
 */
function roomHandlers(calls: Calls, kill: () => void): RoomHandlers {
  return {
    async *room({ request, resumeFrom, signal, messages, headers }) {
      calls.resumes.push(resumeFrom);
      calls.headers.push(headers.get('x-call'));
      signal.addEventListener('abort', () => calls.aborted++, { once: true });
      const [mode, n = '0', k = '0'] = (request.displayName ?? '').split(':');
      if (mode === 'echo') {
        for await (const m of messages) if (m.type === 'say') yield said(0, m.data.text);
        return { type: 'closed', data: { reason: 'left' } };
      }
      if (mode === 'fail') throw new StreamError('FORBIDDEN', 'not a member');
      for (let i = resumeFrom ?? 0; mode === 'forever' || i < +n; i++) {
        yield said(i);
        if (mode === 'kill' && resumeFrom === undefined && i + 1 === +k) kill();
        await sleep(mode === 'forever' ? 20 : 2);
      }
      return { type: 'closed', data: { reason: 'left' } };
    },
  };
}

let browser: Browser;
let page: Page;
let bundle: string;
const cleanups: (() => Promise<void> | void)[] = [];

// The generated client as the generator renders it (templates/client/websocket.ts.hbs), next to
// the room contract's types and the runtime it imports.
beforeAll(async () => {
  [browser, bundle] = await Promise.all([launchChromium(), bundleForBrowser(`export { openRoom, createClient } from ${JSON.stringify(join(ROOT, 'generated/room/client.ts'))};`)]);
  page = await browser.newPage();
});
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});
afterAll(async () => {
  await browser?.close();
});

/** The generated router on a test server that also serves the page and bundle; `kill()` drops the newest connection. */
async function serveRoom(): Promise<{ server: TestServer; calls: Calls; ws: string }> {
  const calls: Calls = { resumes: [], headers: [], aborted: 0 };
  const sockets: Socket[] = [];
  const router = createRouter(roomHandlers(calls, () => sockets.at(-1)?.destroy()), { authenticate: demoAuthenticate, onError: () => {} });
  const server = await startServer((_, res) => res.writeHead(404).end());
  server.http.on('upgrade', (_req, socket: Socket) => sockets.push(socket));
  router.upgrade(server.http);
  server.file('/__test/client.js', bundle, 'text/javascript');
  cleanups.push(() => {
    router.close();
    for (const s of sockets) s.destroy();
    return server.close();
  });
  return { server, calls, ws: server.origin.replace('http', 'ws') };
}

async function openPage(server: TestServer): Promise<void> {
  await page.goto(server.page);
  await page.addScriptTag({ type: 'module', content: "import * as client from '/__test/client.js'; window.client = client;" });
  await page.waitForFunction(() => 'client' in window, undefined, { timeout: 10_000 });
}

interface RawOutcome {
  readonly protocol: string;
  readonly frames: any[];
  readonly close: { code: number; reason: string };
}

// Runs in the page: one native WebSocket, the given frames sent after it opens, everything
// received recorded until the close (bounded by 10 s).
async function rawInPage(args: { url: string; protocols: string[]; send: (string | number[])[] }): Promise<RawOutcome> {
  const ws = new WebSocket(args.url, args.protocols);
  const frames: unknown[] = [];
  return new Promise((resolve) => {
    const t = setTimeout(() => ws.close(), 10_000);
    ws.onopen = () => args.send.forEach((f) => ws.send(typeof f === 'string' ? f : new Uint8Array(f)));
    ws.onmessage = (e) => frames.push(JSON.parse(e.data));
    ws.onclose = (e) => {
      clearTimeout(t);
      resolve({ protocol: ws.protocol, frames, close: { code: e.code, reason: e.reason } });
    };
  });
}

describe("Chromium's native WebSocket against the generated room server", () => {
  const open = (displayName: string, extra: object = {}) => JSON.stringify({ type: '$open', request: { displayName }, credits: 10, ...extra });

  it('gets typed, numbered frames, a credit grant, the terminal frame and close 1000', async () => {
    const { server, ws } = await serveRoom();
    await openPage(server);
    const out = await page.evaluate(rawInPage, { url: `${ws}${ROOM}r-1`, protocols: ['streamspec.v1'], send: [open('count:3')] });

    expect(out.protocol).toBe('streamspec.v1');
    expect(out.close.code).toBe(1000);
    // The server grants client messages for a bidirectional stream (its buffer, 256).
    expect(out.frames.filter((f) => f.type === '$credit')).toEqual([{ type: '$credit', n: 256 }]);
    const numbered = out.frames.filter((f) => f.seq !== undefined);
    const sid = /^[\w-]{22}/.exec(numbered[0].id)![0];
    expect(numbered).toEqual([
      { seq: 1, id: `${sid}.1`, ...said(0) },
      { seq: 2, id: `${sid}.2`, ...said(1) },
      { seq: 3, id: `${sid}.3`, ...said(2) },
      { seq: 4, id: `${sid}.4`, type: 'closed', data: { reason: 'left' } },
    ]);
  });

  it.each<[string, { send: (string | number[])[]; code: number; reason?: RegExp; frames?: object[] }]>([
    ['a first frame that is not $open', { send: ['{"type":"$credit","n":1}'], code: 1002 }],
    ['a binary frame', { send: [[1, 2, 3]], code: 1003 }],
    ['a frame that is not JSON', { send: ['{"type":'], code: 1007 }],
    [
      'an invalid request',
      { send: [open('x'.repeat(65))], code: 4400, reason: /^INVALID_REQUEST: /, frames: [{ type: '$error', data: expect.objectContaining({ code: 'INVALID_REQUEST' }) }] },
    ],
    ['a resume id never issued', { send: [open('count:1', { resume: `${'A'.repeat(22)}.5` })], code: 4410, reason: /^RESUME_EXPIRED: / }],
    ['a second $open', { send: [open('forever'), open('forever')], code: 1002 }],
  ])('is closed with the documented code for %s', async (_, { send, code, reason, frames }) => {
    const { server, ws } = await serveRoom();
    await openPage(server);
    const out = await page.evaluate(rawInPage, { url: `${ws}${ROOM}r-1`, protocols: ['streamspec.v1'], send });
    expect(out.close.code).toBe(code);
    if (reason) expect(out.close.reason).toMatch(reason);
    if (frames) expect(out.frames).toEqual(frames);
  });

  it('cannot open without the subprotocol', async () => {
    const { server, ws } = await serveRoom();
    await openPage(server);
    const out = await page.evaluate(rawInPage, { url: `${ws}${ROOM}r-1`, protocols: [], send: [] });
    expect(out.close.code).toBe(1006);
    expect(out.frames).toEqual([]);
  });
});

interface Outcome {
  readonly messages: { type: string; id: string; data: any }[];
  readonly error?: { name: string; code?: string; message: string };
  readonly states: string[];
  readonly lastId: string | undefined;
}

interface PageCall {
  readonly roomId: string;
  readonly displayName: string;
  readonly resumeFrom?: string;
  /** Client messages to send before iterating; then close(). */
  readonly say?: string[];
  /** Abort after this many messages. */
  readonly abortAfter?: number;
}

// Runs in the page: the bundled generated client, iterated to its end (bounded by 15 s).
async function iterateInPage(call: PageCall): Promise<Outcome> {
  const mod = (window as unknown as { client: Record<string, Function> }).client;
  const states: string[] = [];
  const messages: Outcome['messages'] = [];
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error('timed out')), 15_000);
  let headerCalls = 0;
  const stream = mod['createClient']!({ baseUrl: location.origin, headers: () => ({ 'x-call': String(++headerCalls) }) }).room({
    params: { roomId: call.roomId },
    request: { displayName: call.displayName },
    resumeFrom: call.resumeFrom,
    signal: ac.signal,
    onState: (s: string) => states.push(s),
  });
  if (call.say) {
    for (const text of call.say) stream.send({ type: 'say', data: { text } });
    stream.close();
  }
  try {
    for await (const m of stream) {
      messages.push({ type: m.type, id: m.id, data: m.data });
      if (messages.length === call.abortAfter) ac.abort(new DOMException('the user left', 'AbortError'));
    }
  } catch (e) {
    const { name, code, message } = e as { name: string; code?: string; message: string };
    return { messages, error: { name, code, message }, states, lastId: stream.lastId };
  } finally {
    clearTimeout(timer);
  }
  return { messages, states, lastId: stream.lastId };
}

/** Ids must be `<one streamId>.<1, 2, ...>`. */
function checkIds(messages: Outcome['messages']): string[] {
  const ids = messages.map((m) => m.id);
  const sid = /^[\w-]{22}(?=\.)/.exec(ids[0] ?? '')?.[0];
  expect(sid, `first id ${ids[0]}`).toBeDefined();
  expect(ids).toEqual(messages.map((_, i) => `${sid}.${i + 1}`));
  return ids;
}

const expected = (n: number) => [...Array.from({ length: n }, (_, i) => said(i)), { type: 'closed', data: { reason: 'left' } }];
const withoutIds = (ms: Outcome['messages']) => ms.map(({ type, data }) => ({ type, data }));

describe('the generated client in Chromium against the generated room server', () => {
  it('delivers the exact messages and ends right after the terminal message', async () => {
    const { server, calls } = await serveRoom();
    await openPage(server);
    const out = await page.evaluate(iterateInPage, { roomId: 'r-1', displayName: 'count:40' });

    expect(out.error).toBeUndefined();
    expect(withoutIds(out.messages)).toEqual(expected(40));
    expect(out.lastId).toBe(checkIds(out.messages).at(-1));
    expect(out.states).toEqual(['connecting', 'open', 'closed']);
    expect(calls.resumes).toEqual([undefined]);
  });

  it('resumes after the server kills the connection: every message exactly once', async () => {
    const { server, calls } = await serveRoom();
    await openPage(server);
    const out = await page.evaluate(iterateInPage, { roomId: 'r-1', displayName: 'kill:30:10' });

    expect(out.error).toBeUndefined();
    expect(withoutIds(out.messages)).toEqual(expected(30));
    checkIds(out.messages);
    expect(out.states).toEqual(['connecting', 'open', 'reconnecting', 'open', 'closed']);
    expect(calls.resumes).toHaveLength(2);
    expect(calls.resumes[1]).toBeGreaterThanOrEqual(10);
    // Headers are asked for again at the reconnect, and reach the handler through the open frame.
    expect(calls.headers).toEqual(['1', '2']);
  });

  it('sends client messages, half-closes, and gets in-band problems for bad ones', async () => {
    const { server } = await serveRoom();
    await openPage(server);
    const out = await page.evaluate(iterateInPage, { roomId: 'r-2', displayName: 'echo', say: ['hi', '', 'there'] });

    expect(out.error).toBeUndefined();
    checkIds(out.messages);
    // The problem about message 2 is injected as soon as it arrives, so it may overtake an echo.
    const got = withoutIds(out.messages);
    expect(got.filter((m) => m.type !== 'problem')).toEqual([said(0, 'hi'), said(0, 'there'), { type: 'closed', data: { reason: 'left' } }]);
    expect(got.filter((m) => m.type === 'problem')).toEqual([{ type: 'problem', data: expect.objectContaining({ code: 'INVALID_REQUEST', message: expect.stringMatching(/^client message 2: /) }) }]);
  });

  it.each<[string, { call: PageCall; want: object }]>([
    ['an invalid request', { call: { roomId: 'r-1', displayName: 'x'.repeat(65) }, want: { name: 'StreamError', code: 'INVALID_REQUEST' } }],
    ['invalid params', { call: { roomId: 'NO', displayName: 'count:1' }, want: { name: 'StreamError', code: 'INVALID_REQUEST' } }],
    ['a resume id never issued', { call: { roomId: 'r-1', displayName: 'count:1', resumeFrom: `${'A'.repeat(22)}.5` }, want: { name: 'StreamError', code: 'RESUME_EXPIRED' } }],
    ['a handler error', { call: { roomId: 'r-1', displayName: 'fail' }, want: { name: 'StreamError', code: 'FORBIDDEN', message: 'not a member' } }],
  ])('raises %s as a typed error, without retrying', async (_, { call, want }) => {
    const { server, calls } = await serveRoom();
    await openPage(server);
    const out = await page.evaluate(iterateInPage, call);
    expect(out.error).toMatchObject(want);
    expect(out.states).toEqual(['connecting', 'open', 'closed']);
    await sleep(300);
    expect(calls.resumes.length).toBeLessThanOrEqual(1);
  });

  it('closes the socket when the signal aborts, and the handler is aborted within 1 s', async () => {
    const { server, calls } = await serveRoom();
    await openPage(server);
    const out = await page.evaluate(iterateInPage, { roomId: 'r-1', displayName: 'forever', abortAfter: 3 });
    expect(out.messages).toHaveLength(3);
    expect(out.error).toMatchObject({ name: 'AbortError', message: 'the user left' });
    expect(await waitFor(() => calls.aborted === 1, 1000)).toBe(true);
  });
});

describe('the generated client in Node with npm ws injected', () => {
  // The rendered client's shape (it lives in a work folder, so no static import).
  type RoomClientModule = {
    createClient(options: WsClientOptions): {
      room(args: { params: RoomParams; request: RoomRequest } & StreamCallOptions): WsStreamCall<RoomMessage, RoomClientMessage>;
    };
  };
  const load = async () => (await import(pathToFileURL(join(ROOT, 'generated/room/client.ts')).href)) as RoomClientModule;

  it('delivers every message once and stops the server at exactly the granted window while the consumer waits', async () => {
    const { server } = await serveRoom();
    const { createClient } = await load();
    let numbered = 0;
    // The injectable constructor also lets the test count what reaches the socket.
    class Counting extends NodeWebSocket {
      constructor(url: string, protocols: string) {
        super(url, protocols);
        this.on('message', (d: Buffer) => void (/^\{"seq":/.test(d.toString()) && numbered++));
      }
    }
    const stream = createClient({ baseUrl: server.origin, WebSocket: Counting }).room({ params: { roomId: 'r-1' }, request: { displayName: 'count:100' } });
    const it = stream[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.value).toMatchObject(said(0));
    await sleep(300);
    expect(numbered).toBe(32); // the contract's credits: the consumer took one and stopped
    const rest = [];
    for (let r; !(r = await it.next()).done; ) rest.push(r.value);
    expect(withoutIds([first.value!, ...rest])).toEqual(expected(100));
    expect(numbered).toBe(101);
  });
});

describe("Chromium's WebSocket from a page on another origin", () => {
  // The page on one 127.0.0.1 port, the room router on another: the upgrade's Origin is foreign.
  async function fromForeignPage(listed: boolean): Promise<{ opened: boolean; code: number; starts: number }> {
    const calls: Calls = { resumes: [], headers: [], aborted: 0 };
    const web = await startServer((_, res) => res.writeHead(404).end());
    const api = await startServer((_, res) => res.writeHead(404).end());
    const router = createRouter(roomHandlers(calls, () => {}), {
      authenticate: demoAuthenticate,
      onError: () => {},
      ...(listed ? { cors: { origin: [web.origin] } } : {}),
    });
    router.upgrade(api.http);
    cleanups.push(async () => {
      router.close();
      await api.close();
      await web.close();
    });
    await page.goto(web.page);
    const out = await page.evaluate(
      (url) =>
        new Promise<{ opened: boolean; code: number }>((resolve) => {
          let opened = false;
          const ws = new WebSocket(url, 'streamspec.v1');
          ws.onopen = () => {
            opened = true;
            ws.send(JSON.stringify({ type: '$open', request: { displayName: 'ada' } }));
            setTimeout(() => ws.close(1000), 300);
          };
          ws.onclose = (e) => resolve({ opened, code: e.code });
          setTimeout(() => resolve({ opened, code: -1 }), 5_000);
        }),
      `${api.origin.replace('http', 'ws')}/v1/rooms/lobby`,
    );
    return { ...out, starts: calls.headers.length + calls.resumes.length };
  }

  it('is refused at the upgrade when the router does not list the origin: no socket, no handler', async () => {
    const out = await fromForeignPage(false);
    expect(out.opened).toBe(false);
    expect(out.code).toBe(1006); // what a browser reports for a refused handshake
    expect(out.starts).toBe(0);
  });

  it('connects when cors.origin lists the page origin', async () => {
    const out = await fromForeignPage(true);
    expect(out.opened).toBe(true);
    expect(out.code).toBe(1000);
  });
});
