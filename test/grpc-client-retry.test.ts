// The generated Node gRPC client's one retry after UNAUTHENTICATED (docs/grpc.md, Authentication),
// against the generated server for test/fixtures/grpc/retry.yaml on 127.0.0.1. Only a refusal
// before any response is retried (a handler's UNAUTHORIZED later in the call is its error, and
// reopening would run the handler again), and a retried call sends each client message once: a
// message queued while the fresh headers are awaited goes out on the new call, never the dead one.

import type { AddressInfo, Server, Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../generator/generate.ts';
import { within } from './http-harness.ts';
import { removeWorkDirs, ROOT, workDir } from './support/tools.ts';

type Any = any;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Everything a generated-client call yields, and how it ended. */
async function collect(call: AsyncIterable<Any>, ms: number): Promise<{ got: Any[]; err: unknown }> {
  const got: Any[] = [];
  let err: unknown;
  await within(
    (async () => {
      try {
        for await (const m of call) got.push(m);
      } catch (e) {
        err = e;
      }
    })(),
    ms,
    'client call',
  );
  return { got, err };
}

let serverMod: Any;
let clientMod: Any;
beforeAll(async () => {
  const out = join(workDir('grpc-client-retry'), 'out');
  const r = await generate({ spec: 'test/fixtures/grpc/retry.yaml', out, cwd: ROOT });
  expect(r.ok).toBe(true);
  serverMod = await import(`file://${join(out, 'server.ts')}`);
  clientMod = await import(`file://${join(out, 'client.ts')}`);
});
afterAll(() => removeWorkDirs());

/** The authorization metadata of every hook call, in order. */
const asked: (string | null)[] = [];
/** Handler invocations per stream, and the client messages each invocation read. */
const calls = { feed: 0, ticks: 0, upload: [] as string[][], echo: [] as string[][] };
/** Set by a test: the server-streaming handlers end with UNAUTHORIZED after their items, not `end`. */
let revoke = false;

function items(stream: 'feed' | 'ticks') {
  return async function* ({ request, resumeFrom = 0 }: Any) {
    calls[stream]++;
    for (let i = resumeFrom; i < request.count; i++) yield { type: 'item', data: { id: `i${i}` } };
    if (revoke) throw new serverMod.StreamError('UNAUTHORIZED', 'token revoked mid-stream');
    return { type: 'end' };
  };
}

const handlers = {
  feed: items('feed'),
  ticks: items('ticks'),
  async *upload({ messages }: Any) {
    const ids: string[] = [];
    calls.upload.push(ids);
    for await (const m of messages) ids.push(m.data.id);
    return { type: 'receipt', data: { ids } };
  },
  async *echo({ messages }: Any) {
    const ids: string[] = [];
    calls.echo.push(ids);
    for await (const m of messages) {
      ids.push(m.data.id);
      yield { type: 'item', data: m.data };
    }
    return { type: 'closed' };
  },
};

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

/** Serves the fixture with a hook that knows `Bearer fresh` and refuses `Bearer stale` as expired. */
async function serve(): Promise<string> {
  asked.length = 0;
  calls.feed = calls.ticks = 0;
  calls.upload.length = 0;
  calls.echo.length = 0;
  revoke = false;
  const router = serverMod.createRouter(handlers, {
    onError: () => {},
    authenticate: (req: Any) => {
      const header: string | null = req.headers.get('authorization');
      asked.push(header);
      if (header === 'Bearer fresh') return { id: 'ada' };
      if (header === 'Bearer stale') throw new serverMod.StreamError('UNAUTHENTICATED', 'token expired');
      return undefined;
    },
  });
  const server: Server = serverMod.createH2cServer(router.node);
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  close = async () => {
    router.close();
    sockets.forEach((s) => s.destroy());
    await new Promise((r) => server.close(r));
  };
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** `headers()` that hands out the given tokens in turn (the last one from then on), counting calls. */
function tokens(...list: string[]) {
  const counter = { asked: 0, headers: () => ({ authorization: `Bearer ${list[Math.min(counter.asked++, list.length - 1)]}` }) };
  return counter;
}

// Opened again, the resumable feed would replay the stored error (the hook asked twice, the handler
// once); ticks, not resumable, would run its handler a second time.
describe.each([
  ['resumable (feed)', 'feed'],
  ['not resumable (ticks)', 'ticks'],
] as const)('server-streaming, %s: which UNAUTHENTICATED is retried', (_name, stream) => {
  it("a handler's UNAUTHORIZED after messages: not re-opened; the messages, then StreamError('UNAUTHORIZED')", async () => {
    const baseUrl = await serve();
    revoke = true;
    const h = tokens('fresh');
    const { got, err } = await collect(clientMod.createClient({ baseUrl, headers: h.headers })[stream]({ request: { count: 3 } }), 5000);
    // One call: the handler ran once, the hook was asked once, the headers were asked once.
    expect(calls[stream]).toBe(1);
    expect(asked).toEqual(['Bearer fresh']);
    expect(h.asked).toBe(1);
    expect(got.map((m: Any) => [m.type, m.data.id])).toEqual([
      ['item', 'i0'],
      ['item', 'i1'],
      ['item', 'i2'],
    ]);
    expect(err).toBeInstanceOf(clientMod.StreamError);
    expect(err).toMatchObject({ code: 'UNAUTHORIZED', message: 'token revoked mid-stream' });
  });

  it('the hook refusing before any response: tried once more with headers asked again, then every message', async () => {
    const baseUrl = await serve();
    const h = tokens('stale', 'fresh');
    const { got, err } = await collect(clientMod.createClient({ baseUrl, headers: h.headers })[stream]({ request: { count: 3 } }), 5000);
    expect(err).toBeUndefined();
    expect(got.map((m: Any) => m.type)).toEqual(['item', 'item', 'item', 'end']);
    expect(h.asked).toBe(2);
    expect(asked).toEqual(['Bearer stale', 'Bearer fresh']);
    expect(calls[stream]).toBe(1);
  });
});

// The first attempt is refused; while the second attempt's headers are pending, the client queues
// a message and closes. The refused call's request generator is still parked on the outbox then.
describe.each([
  ['client-to-server (upload)', 'upload', [{ type: 'receipt', data: { ids: ['a'] } }]],
  [
    'bidirectional (echo)',
    'echo',
    [
      { type: 'item', data: { id: 'a' } },
      { type: 'closed', data: null },
    ],
  ],
] as const)('%s: a message queued during the headers refresh', (_name, stream, want) => {
  it('goes out once, on the retried call', async () => {
    const baseUrl = await serve();
    const refreshing = deferred<void>();
    const fresh = deferred<HeadersInit>();
    let headersAsked = 0;
    const headers = () => (++headersAsked === 1 ? { authorization: 'Bearer stale' } : (refreshing.resolve(), fresh.promise));
    const call = clientMod.createClient({ baseUrl, headers })[stream]({});
    const result = collect(call, 5000);

    await within(refreshing.promise, 5000, 'the second headers()');
    await call.send({ type: 'item', data: { id: 'a' } });
    call.close();
    // Time for the refused call's parked request generator to wake and (wrongly) take the message.
    await sleep(50);
    fresh.resolve({ authorization: 'Bearer fresh' });

    const { got, err } = await result;
    expect(err).toBeUndefined();
    expect(got.map((m: Any) => ({ type: m.type, data: m.data }))).toEqual(want);
    expect(asked).toEqual(['Bearer stale', 'Bearer fresh']);
    expect(headersAsked).toBe(2);
    // One handler run (the refused call never reached one), and it read the message exactly once.
    expect(calls[stream]).toEqual([['a']]);
  });
});
