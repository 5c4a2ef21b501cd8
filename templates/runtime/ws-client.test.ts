import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WebSocket, WebSocketServer, type WebSocket as Peer } from 'ws';
import type { ConnectionState, StreamCallOptions } from './client.ts';
import { StreamError, StreamInterruptedError, StreamProtocolError } from './errors.ts';
import { openWsStream, SUBPROTOCOL, type WsClientOptions, type WsTarget } from './ws-client.ts';

// Drives the client (with npm `ws` injected, as in Node) against a scripted `ws` server on
// 127.0.0.1 that speaks docs/websocket.md frame by frame.

type Msg = { type: string; id: string; data: unknown };
type Say = { type: 'say'; data: { text: string } };

const SID = 'AbCdEfGhIjKlMnOpQrSt_-'; // 22 base64url characters
const id = (n: number, sid = SID) => `${sid}.${n}`;
const frame = (n: number, type: string, data: unknown = null, extra: object = {}) => JSON.stringify({ seq: n, id: id(n), type, data, ...extra });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One connection as the server saw it. */
interface Conn {
  readonly peer: Peer;
  readonly url: string;
  readonly protocol: string;
  /** Every frame the client sent, parsed; the first is the open frame. */
  readonly frames: any[];
  /** The close code the client sent (undefined while open). */
  closedWith?: number;
  /** Resolves at the client's next frame. */
  next(): Promise<any>;
}
type Script = (c: Conn, n: number) => unknown;

const servers: WebSocketServer[] = [];
beforeEach(() => {
  // No jitter wait unless a test asks for one: reconnects happen at once.
  vi.spyOn(Math, 'random').mockReturnValue(0);
});
afterEach(async () => {
  vi.restoreAllMocks();
  for (const s of servers.splice(0)) {
    for (const c of s.clients) c.terminate();
    await new Promise((r) => s.close(r));
  }
});

/** Runs `script` for each connection once its open frame has arrived. */
async function serve(script: Script) {
  const conns: Conn[] = [];
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (ps) => (ps.has(SUBPROTOCOL) ? SUBPROTOCOL : false) });
  servers.push(wss);
  wss.on('connection', (peer, req) => {
    let read = 1; // frames handed out by next(): the open frame goes to the script
    let wake = () => {};
    const c: Conn = {
      peer,
      url: req.url!,
      protocol: peer.protocol,
      frames: [],
      next: async () => {
        while (c.frames.length <= read) await new Promise<void>((r) => (wake = r));
        return c.frames[read++];
      },
    };
    peer.on('close', (code) => (c.closedWith = code));
    peer.on('message', (data) => {
      c.frames.push(JSON.parse(String(data)));
      if (c.frames.length === 1) {
        conns.push(c);
        void script(c, conns.length - 1);
      } else wake();
    });
  });
  await new Promise((r) => wss.once('listening', r));
  return { base: `http://127.0.0.1:${(wss.address() as AddressInfo).port}`, conns };
}

function open<C extends { type: string; data: unknown } = Say>(
  base: string,
  target: Partial<WsTarget> = {},
  options?: StreamCallOptions,
  client: Partial<WsClientOptions> = {},
) {
  return openWsStream<Msg, C>(
    { baseUrl: base, WebSocket: WebSocket, ...client },
    { path: '/s', terminal: 'done', idleMs: 2000, resume: true, credits: 8, codes: ['FORBIDDEN', 'ROOM_FULL', 'INTERNAL'], ...target },
    options,
  );
}

/** Iterates to the end (or first error) within `ms`, never longer. */
async function drain(it: AsyncIterable<Msg>, ms = 5000) {
  const got: Msg[] = [];
  let error: unknown;
  const t = setTimeout(() => (error ??= new Error('drain timed out')), ms);
  try {
    for await (const m of it) {
      got.push(m);
      if (error) break;
    }
  } catch (e) {
    error ??= e;
  } finally {
    clearTimeout(t);
  }
  return { got, error };
}

describe('openWsStream', () => {
  it('opens with the subprotocol, the request, credits and fresh headers, and ends right after the terminal', async () => {
    const { base, conns } = await serve((c) => {
      c.peer.send(frame(1, 'said', { text: 'a' }));
      c.peer.send(frame(2, 'done', { reason: 'left' }));
      c.peer.send(frame(3, 'said', { text: 'after the end' }));
    });
    let asked = 0;
    const states: ConnectionState[] = [];
    const s = open(base, { path: '/v1/rooms/r%2F1', request: { displayName: 'ada' } }, { onState: (x) => states.push(x) }, { headers: () => ({ authorization: `Bearer ${++asked}` }) });
    expect(s.state).toBe('connecting');
    const { got, error } = await drain(s);

    expect(error).toBeUndefined();
    expect(got).toEqual([
      { type: 'said', id: id(1), data: { text: 'a' } },
      { type: 'done', id: id(2), data: { reason: 'left' } },
    ]);
    expect(conns).toHaveLength(1);
    expect(conns[0]!.url).toBe('/v1/rooms/r%2F1');
    expect(conns[0]!.protocol).toBe(SUBPROTOCOL);
    expect(conns[0]!.frames[0]).toEqual({ type: '$open', request: { displayName: 'ada' }, credits: 8, headers: { authorization: 'Bearer 1' } });
    expect(s.lastId).toBe(id(2));
    expect(states).toEqual(['connecting', 'open', 'closed']);
    await vi.waitFor(() => expect(conns[0]!.closedWith).toBe(1000));
  });

  it('uses the global WebSocket when none is injected', async () => {
    const { base, conns } = await serve((c) => c.peer.send(frame(1, 'done')));
    vi.stubGlobal('WebSocket', WebSocket);
    try {
      const { error } = await drain(openWsStream<Msg>({ baseUrl: base }, { path: '/g', terminal: 'done', idleMs: 2000, resume: true, credits: 1, codes: [] }));
      expect(error).toBeUndefined();
      expect(conns[0]!.url).toBe('/g');
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('accepts a ws:// base URL and omits what the stream has not got', async () => {
    const { base, conns } = await serve((c) => c.peer.send(frame(1, 'done')));
    const { error } = await drain(open(base.replace('http', 'ws') + '/', { credits: 3 }));
    expect(error).toBeUndefined();
    expect(conns[0]!.url).toBe('/s');
    expect(conns[0]!.frames[0]).toEqual({ type: '$open', credits: 3, headers: {} });
  });

  it('gives the server exactly its window while the consumer stops, and tops it up at half the window', async () => {
    const W = 4;
    let sent = 0;
    let credit = 0;
    const { base, conns } = await serve(async (c) => {
      credit = c.frames[0].credits;
      const pump = () => {
        for (; credit > 0 && sent < 12; credit--) c.peer.send(frame(++sent, sent === 12 ? 'done' : 'said', sent));
      };
      c.peer.on('message', (d) => {
        const f = JSON.parse(String(d));
        if (f.type === '$credit') (credit += f.n), pump();
      });
      pump();
    });
    const it = open(base, { credits: W })[Symbol.asyncIterator]();
    expect((await it.next()).value.data).toBe(1);
    await sleep(200);
    // The consumer took one and stopped: the server sent its window and got nothing more.
    expect(sent).toBe(W);
    expect(conns[0]!.frames.slice(1)).toEqual([]);
    expect((await it.next()).value.data).toBe(2); // two taken: half the window
    await sleep(100);
    expect(conns[0]!.frames.slice(1)).toEqual([{ type: '$credit', n: 2 }]);
    expect(sent).toBe(W + 2);
    const rest: unknown[] = [];
    for (let r; !(r = await it.next()).done; ) rest.push(r.value.data);
    expect(rest).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    // Never more granted than taken: 4 at open plus the grants cover the 12 frames.
    const granted = W + conns[0]!.frames.slice(1).reduce((a, f) => a + f.n, 0);
    expect(granted).toBeGreaterThanOrEqual(12);
    expect(granted).toBeLessThanOrEqual(12 + W);
  });

  it('drops a repeated frame, gives its credit back, and counts `dropped`', async () => {
    const { base, conns } = await serve(async (c) => {
      c.peer.send(frame(1, 'said', 'a'));
      c.peer.send(frame(1, 'said', 'a again'));
      c.peer.send(frame(2, 'said', 'b', { dropped: 3 }));
      await sleep(50);
      c.peer.send(frame(3, 'done'));
    });
    const s = open(base, { credits: 2 });
    const { got, error } = await drain(s);
    expect(error).toBeUndefined();
    expect(got.map((m) => m.data)).toEqual(['a', 'b', null]);
    expect(s.dropped).toBe(3);
    expect(conns[0]!.frames.slice(1).some((f) => f.type === '$credit')).toBe(true);
  });

  it.each<[string, { given: string[]; want: RegExp }]>([
    ['a gap in seq', { given: [frame(1, 'said'), frame(3, 'said')], want: /\.3 after .*\.1/ }],
    ['another instance', { given: [frame(1, 'said'), JSON.stringify({ seq: 2, id: id(2, 'x'.repeat(22)), type: 'said', data: 1 })], want: /after/ }],
    ['seq that disagrees with the id', { given: [JSON.stringify({ seq: 2, id: id(1), type: 'said', data: 1 })], want: /malformed said/ }],
    ['an unknown $ frame', { given: [JSON.stringify({ type: '$hello' })], want: /malformed \$hello/ }],
    ['a $credit with a bad count', { given: [JSON.stringify({ type: '$credit', n: -1 })], want: /malformed \$credit/ }],
    ['text that is not JSON', { given: ['{"seq":1,'], want: /bad frame/ }],
    ['an $error without code', { given: [JSON.stringify({ seq: 1, id: id(1), type: '$error', data: { message: 'x' } })], want: /malformed \$error/ }],
  ])('ends with StreamProtocolError on %s, and closes with 1000', async (_, { given, want }) => {
    const { base, conns } = await serve((c) => given.forEach((g) => c.peer.send(g)));
    const { error } = await drain(open(base));
    expect(error).toBeInstanceOf(StreamProtocolError);
    expect((error as Error).message).toMatch(want);
    await vi.waitFor(() => expect(conns[0]!.closedWith).toBe(1000));
    expect(conns).toHaveLength(1);
  });

  it('raises a fail-fast $error as StreamError after the messages before it', async () => {
    const { base } = await serve((c) => {
      c.peer.send(frame(1, 'said', 'a'));
      c.peer.send(frame(2, '$error', { code: 'ROOM_FULL', message: 'full', retryable: true }));
      c.peer.close(1000);
    });
    const { got, error } = await drain(open(base));
    expect(got.map((m) => m.data)).toEqual(['a']);
    expect(error).toBeInstanceOf(StreamError);
    expect(error).toMatchObject({ code: 'ROOM_FULL', message: 'full', retryable: true });
  });

  it('raises the open frame $error (an invalid request) as StreamError, without retrying', async () => {
    const { base, conns } = await serve((c) => {
      c.peer.send(JSON.stringify({ type: '$error', data: { code: 'INVALID_REQUEST', message: 'request.displayName: too long', issues: [] } }));
      c.peer.close(4400, 'INVALID_REQUEST: request.displayName: too long');
    });
    const { error } = await drain(open(base));
    expect(error).toMatchObject({ name: 'StreamError', code: 'INVALID_REQUEST', message: 'request.displayName: too long' });
    await sleep(50);
    expect(conns).toHaveLength(1);
  });

  it.each<[string, { given: [number, string]; want: { name: string; code?: string; message?: string } }]>([
    ['a contract code in the reason', { given: [4001, 'ROOM_FULL: the room is full'], want: { name: 'StreamError', code: 'ROOM_FULL', message: 'the room is full' } }],
    ['a contract code by number', { given: [4000, ''], want: { name: 'StreamError', code: 'FORBIDDEN' } }],
    ['the reason over the number', { given: [4000, 'RATE_LIMITED: slow: down'], want: { name: 'StreamError', code: 'RATE_LIMITED', message: 'slow: down' } }],
    ['4400', { given: [4400, ''], want: { name: 'StreamError', code: 'INVALID_REQUEST' } }],
    ['4410', { given: [4410, 'gone'], want: { name: 'StreamError', code: 'RESUME_EXPIRED', message: 'gone' } }],
    ['an unknown 4xxx', { given: [4499, ''], want: { name: 'StreamError', code: 'WS_4499' } }],
    ['4403', { given: [4403, 'PERMISSION_DENIED: suspended'], want: { name: 'StreamError', code: 'PERMISSION_DENIED', message: 'suspended' } }],
    ['4429', { given: [4429, 'RESOURCE_EXHAUSTED: at most 2'], want: { name: 'StreamError', code: 'RESOURCE_EXHAUSTED', message: 'at most 2' } }],
    ['1002', { given: [1002, 'seq gap'], want: { name: 'StreamProtocolError', message: 'closed 1002 seq gap' } }],
    ['1003', { given: [1003, ''], want: { name: 'StreamProtocolError' } }],
    ['1007', { given: [1007, ''], want: { name: 'StreamProtocolError' } }],
    ['1008', { given: [1008, ''], want: { name: 'StreamProtocolError' } }],
    ['1009', { given: [1009, ''], want: { name: 'StreamProtocolError' } }],
    ['1000 without the terminal', { given: [1000, ''], want: { name: 'StreamInterruptedError' } }],
    // The server's out-of-band INTERNAL: a resume would be answered with it again.
    ['1011 INTERNAL', { given: [1011, 'INTERNAL: internal error'], want: { name: 'StreamError', code: 'INTERNAL', message: 'internal error' } }],
    ['1011 naming a contract code', { given: [1011, 'ROOM_FULL: full'], want: { name: 'StreamError', code: 'ROOM_FULL', message: 'full' } }],
  ])('maps close %s to a typed error, without retrying', async (_, { given: [code, reason], want }) => {
    const { base, conns } = await serve((c) => c.peer.close(code, reason));
    const { got, error } = await drain(open(base));
    expect(got).toEqual([]);
    expect(error).toMatchObject(want);
    await sleep(50);
    expect(conns).toHaveLength(1);
  });

  it('retries a first 4401 with headers asked again, and ends on a second one in a row', async () => {
    const { base, conns } = await serve((c) => c.peer.close(4401, 'UNAUTHENTICATED: token expired'));
    let asked = 0;
    const { got, error } = await drain(open(base, {}, {}, { headers: () => ({ authorization: `t${++asked}` }) }));
    expect(got).toEqual([]);
    expect(error).toMatchObject({ name: 'StreamError', code: 'UNAUTHENTICATED', message: 'token expired' });
    expect(conns.map((c) => c.frames[0].headers)).toEqual([{ authorization: 't1' }, { authorization: 't2' }]);
    await sleep(50);
    expect(conns).toHaveLength(2);
  });

  it('counts 4401s only since the last message: a stream that got one in between retries again', async () => {
    const { base, conns } = await serve((c, n) => {
      if (n === 0) c.peer.close(4401, 'UNAUTHENTICATED: expired');
      else if (n === 1) c.peer.send(frame(1, 'said', 'a')), c.peer.terminate();
      else if (n === 2) c.peer.close(4401, 'UNAUTHENTICATED: expired');
      else c.peer.send(frame(2, 'done'));
    });
    const { got, error } = await drain(open(base));
    expect(error).toBeUndefined();
    expect(got.map((m) => m.id)).toEqual([id(1), id(2)]);
    expect(conns).toHaveLength(4);
  });

  it.each([1001, 1011, 4408, 1006])('reconnects after close %s and resumes from the last id', async (code) => {
    const { base, conns } = await serve((c, n) => {
      if (n === 0) {
        c.peer.send(frame(1, 'said', 'a'));
        if (code === 1006) c.peer.terminate();
        // A 1011 that names none of the stream's codes (a proxy, a crash elsewhere) is worth a retry.
        else c.peer.close(code, code === 1011 ? 'OVERLOADED: try again' : '');
      } else c.peer.send(frame(2, 'done'));
    });
    const states: ConnectionState[] = [];
    let asked = 0;
    const { got, error } = await drain(open(base, {}, { onState: (x) => states.push(x) }, { headers: () => ({ 'x-n': `${++asked}` }) }));
    expect(error).toBeUndefined();
    expect(got.map((m) => m.id)).toEqual([id(1), id(2)]);
    expect(conns.map((c) => c.frames[0])).toEqual([
      { type: '$open', credits: 8, headers: { 'x-n': '1' } },
      // One message is still queued when the socket goes (the consumer has not taken it yet) or not.
      { type: '$open', resume: id(1), credits: expect.any(Number), headers: { 'x-n': '2' } },
    ]);
    expect(states).toEqual(['connecting', 'open', 'reconnecting', 'open', 'closed']);
  });

  it('treats silence longer than the idle timeout as a dead connection, never as the end; heartbeats keep it open', async () => {
    const { base, conns } = await serve(async (c, n) => {
      if (n === 0) {
        c.peer.send(frame(1, 'said', 'a'));
        for (let i = 0; i < 4; i++) await sleep(100), c.peer.send('{"type":"$heartbeat"}');
        c.peer.send(frame(2, 'said', 'b'));
        // then silence, on a socket that stays open
      } else c.peer.send(frame(3, 'done'));
    });
    const { got, error } = await drain(open(base, { idleMs: 250 }));
    expect(error).toBeUndefined();
    expect(got.map((m) => m.data)).toEqual(['a', 'b', null]);
    expect(conns).toHaveLength(2);
    expect(conns[1]!.frames[0].resume).toBe(id(2));
  });

  it('backs off exponentially from 250 ms with full jitter', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(1);
    const at: number[] = [];
    const { base } = await serve((c, n) => {
      at.push(performance.now());
      if (n < 2) c.peer.terminate();
      else c.peer.send(frame(1, 'done'));
    });
    const { error } = await drain(open(base));
    expect(error).toBeUndefined();
    const gaps = [at[1]! - at[0]!, at[2]! - at[1]!];
    expect(gaps[0]).toBeGreaterThanOrEqual(245);
    expect(gaps[0]).toBeLessThan(450);
    expect(gaps[1]).toBeGreaterThanOrEqual(495);
    expect(gaps[1]).toBeLessThan(750);
  });

  it('gives up after maxAttempts connections without a message', async () => {
    const { base, conns } = await serve((c) => c.peer.terminate());
    const { error } = await drain(open(base, {}, {}, { maxAttempts: 3 }));
    expect(error).toBeInstanceOf(StreamInterruptedError);
    expect((error as Error).message).toMatch(/^3 attempts: closed 1006/);
    expect(conns).toHaveLength(3);
  });

  it('retries when the server refuses the upgrade, and when the headers function throws', async () => {
    let calls = 0;
    const { base, conns } = await serve((c) => c.peer.send(frame(1, 'done')));
    const s = open(base, {}, {}, {
      headers: () => {
        if (++calls === 1) throw new Error('token service down');
        return {};
      },
    });
    const { error } = await drain(s);
    expect(error).toBeUndefined();
    expect(calls).toBe(2);
    expect(conns).toHaveLength(1);

    // A server that answers 400 (no subprotocol match) is retried like a network error.
    const refusing = await serve(() => {});
    const { error: e2 } = await drain(open(refusing.base, { path: '/x' }, {}, { WebSocket: class extends WebSocket {
      constructor(url: string) {
        super(url, 'other.v9');
      }
    } as never, maxAttempts: 2 }));
    expect(e2).toBeInstanceOf(StreamInterruptedError);
    expect((e2 as Error).message).toMatch(/^2 attempts: closed 1006/);
  });

  it('cannot resume a stream whose contract says none once a message has arrived', async () => {
    const { base, conns } = await serve((c) => {
      c.peer.send(frame(1, 'said'));
      c.peer.terminate();
    });
    const { got, error } = await drain(open(base, { resume: false }));
    expect(got).toHaveLength(1);
    expect(error).toBeInstanceOf(StreamInterruptedError);
    expect((error as Error).message).toMatch(/cannot resume/);
    expect(conns).toHaveLength(1);
  });

  it('cannot resume a stream whose contract says none once a client message went out: never starts it over', async () => {
    // A client-to-server stream sees no server message before its end; what it sent died with
    // the socket, so a new connection would be a new, empty stream reported as a success.
    const { base, conns } = await serve(async (c) => {
      c.peer.send('{"type":"$credit","n":5}');
      await c.next();
      c.peer.terminate();
    });
    const s = open(base, { resume: false });
    s.send({ type: 'say', data: { text: '1' } });
    s.close();
    const { got, error } = await drain(s);
    expect(got).toEqual([]);
    expect(error).toBeInstanceOf(StreamInterruptedError);
    expect((error as Error).message).toMatch(/cannot resume/);
    expect(conns).toHaveLength(1);
  });

  it('resumes from `resumeFrom` on the first connect and continues its numbering', async () => {
    const { base, conns } = await serve((c) => {
      c.peer.send(frame(41, 'said', 'old')); // a replayed frame at the resume point: dropped
      c.peer.send(frame(42, 'said', 'x'));
      c.peer.send(frame(43, 'done'));
    });
    const { got, error } = await drain(open(base, {}, { resumeFrom: id(41) }));
    expect(error).toBeUndefined();
    expect(got.map((m) => m.id)).toEqual([id(42), id(43)]);
    expect(conns[0]!.frames[0].resume).toBe(id(41));
  });

  it('closes the socket with 1000 and throws the reason when the signal aborts', async () => {
    const { base, conns } = await serve((c) => c.peer.send(frame(1, 'said')));
    const ac = new AbortController();
    const s = open(base, {}, { signal: ac.signal });
    const it = s[Symbol.asyncIterator]();
    await it.next();
    ac.abort(new Error('user left'));
    await expect(it.next()).rejects.toThrow('user left');
    expect(s.state).toBe('closed');
    await vi.waitFor(() => expect(conns[0]!.closedWith).toBe(1000));
  });

  it('closes the socket with 1000 when the consumer breaks out', async () => {
    const { base, conns } = await serve((c) => c.peer.send(frame(1, 'said')));
    for await (const _ of open(base)) break;
    await vi.waitFor(() => expect(conns[0]!.closedWith).toBe(1000));
  });

  it('sends client messages only within the server grants, numbered from 1 on each connection, and $end after them', async () => {
    const { base, conns } = await serve(async (c, n) => {
      if (n === 0) {
        await sleep(50);
        c.peer.send('{"type":"$credit","n":2}');
        await c.next();
        await c.next();
        await sleep(50); // a third message waits for credit
        c.peer.terminate();
        return;
      }
      c.peer.send('{"type":"$credit","n":5}');
      await c.next();
      await c.next(); // $end
      c.peer.send(frame(1, 'done'));
    });
    const s = open(base);
    s.send({ type: 'say', data: { text: '1' } });
    s.send({ type: 'say', data: { text: '2' } });
    s.send({ type: 'say', data: { text: '3' } });
    s.close();
    expect(() => s.send({ type: 'say', data: { text: 'late' } })).toThrow('stream closed');
    const { error } = await drain(s);
    expect(error).toBeUndefined();
    expect(conns[0]!.frames.slice(1)).toEqual([
      { seq: 1, type: 'say', data: { text: '1' } },
      { seq: 2, type: 'say', data: { text: '2' } },
    ]);
    // What was never sent goes on the next connection; what was sent is not sent again.
    expect(conns[1]!.frames.slice(1)).toEqual([{ seq: 1, type: 'say', data: { text: '3' } }, { type: '$end' }]);
  });

  it('connects on the first send, before any pull', async () => {
    const { conns, base } = await serve(async (c) => {
      c.peer.send('{"type":"$credit","n":1}');
      await c.next();
      c.peer.send(frame(1, 'done'));
    });
    const s = open(base);
    s.send({ type: 'say', data: { text: 'hi' } });
    await vi.waitFor(() => expect(conns[0]?.frames[1]).toEqual({ seq: 1, type: 'say', data: { text: 'hi' } }), { timeout: 2000 });
    expect((await drain(s)).error).toBeUndefined();
  });
});
