// Authentication end to end, per transport: the generated assistant server (auth: required in
// the contract) with an `authenticate` hook, driven by the generated client in Node and by plain
// fetch. Nobody reads a stream without credentials or a stream another principal opened; tokens
// refreshed at a reconnect are the ones used; one principal cannot open streams without bound.

import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHandlers } from '../examples/assistant/handlers.ts';
import { StreamError } from '../generated/assistant/server.ts';
import type * as Client from '../generated/assistant/client.ts';
import type * as Server from '../generated/assistant/server.ts';
import { collect, CONVERSATION, type GeneratedCode, generateInto, listen, type Listening, loadGenerated, ROOT, until } from './http-harness.ts';

type Generated = GeneratedCode<typeof Server, typeof Client>;
const transports: Record<'sse' | 'ndjson', Generated> = {} as never;
beforeAll(async () => {
  const load = (dir: string) => loadGenerated<typeof Server, typeof Client>(dir);
  transports.sse = await load(`${ROOT}generated/assistant`);
  transports.ndjson = await load(generateInto('spec/assistant.yaml', 'ndjson', 'auth-ndjson'));
});

let server: Listening | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

interface User {
  readonly id: string;
  readonly name: string;
}
/** Bearer tokens the test server accepts; a test revokes one by deleting it. */
const tokens = new Map<string, User>();
const authenticate = async (req: Server.AuthRequest): Promise<User | undefined> => {
  const header = req.headers.get('authorization');
  if (!header) return undefined;
  const user = tokens.get(header.replace(/^Bearer /, ''));
  if (!user) throw new StreamError('UNAUTHENTICATED', 'token expired or unknown');
  return user;
};

const PATH = `/v1/conversations/${CONVERSATION}/completion`;
const withoutIds = (got: readonly { type: string; data: unknown }[]) => got.map(({ type, data }) => ({ type, data }));
const expected = (prompt: string, n: number) => [
  ...Array.from({ length: n }, (_, i) => ({ type: 'token', data: { text: `w${i} `, index: i } })),
  { type: 'usage', data: { inputTokens: prompt.length, outputTokens: n } },
  { type: 'done', data: { finishReason: 'stop' } },
];

describe.each(['sse', 'ndjson'] as const)('%s', (transport) => {
  const resumeHeader = transport === 'sse' ? 'last-event-id' : 'streamspec-resume';

  /** The generated server with the hook; records the principal each handler call got. */
  async function serve(options: Partial<Server.RouterOptions<User>> = {}, delayMs = 0) {
    const S = transports[transport].server;
    const principals: unknown[] = [];
    const inner = createHandlers({ delayMs });
    const handlers: Server.AssistantHandlers<User> = {
      completion: (ctx) => (principals.push(ctx.principal), inner.completion(ctx)),
      history: (ctx) => (principals.push(ctx.principal), inner.history(ctx)),
    };
    server = await listen(S.createRouter(handlers, { authenticate, retryMs: 20, onError: () => {}, ...options }).node);
    return { srv: server, principals };
  }
  const statuses = (srv: Listening) => srv.exchanges.map((x) => [x.req.headers.authorization, x.res.statusCode]);

  it('without the hook, createRouter refuses a contract whose streams say auth: required', () => {
    expect(() => transports[transport].server.createRouter(createHandlers())).toThrow(
      'streamspec: streams "completion", "history" require authentication (auth: required in the contract), but createRouter was given no authenticate hook.',
    );
  });

  it("types ctx.principal as what authenticate returns (checked by tsc over the tests)", async () => {
    const S = transports[transport].server;
    const seen: string[] = [];
    const router = S.createRouter(
      {
        async *completion(ctx) {
          const plan: 'free' | 'pro' = ctx.principal.plan;
          seen.push(plan);
          return { type: 'done', data: { finishReason: 'stop' } };
        },
        async *history(ctx) {
          // @ts-expect-error the principal is the hook's type, not a string
          const wrong: string = ctx.principal;
          return { type: 'end', data: { count: wrong.length, hasMore: false } };
        },
      },
      { authenticate: async () => ({ id: 'ada', plan: 'pro' as const }) },
    );
    server = await listen(router.node);
    await (await fetch(`${server.base}${PATH}?prompt=hi`)).text();
    expect(seen).toEqual(['pro']);
  });

  it('no credentials: rejected before any message (401 JSON; the client: StreamError UNAUTHENTICATED after one retry)', async () => {
    const { srv, principals } = await serve();
    const raw = await fetch(`${srv.base}${PATH}?prompt=hi`);
    expect(raw.status).toBe(401);
    expect(raw.headers.get('content-type')).toBe('application/json');
    expect(await raw.json()).toEqual({ code: 'UNAUTHENTICATED', message: 'stream completion requires authentication' });

    const C = transports[transport].client;
    let asked = 0;
    const call = C.openCompletion(
      { baseUrl: srv.base, maxRetryMs: 20, headers: () => (asked++, {}) },
      { params: { conversationId: CONVERSATION }, request: { prompt: 'hi' } },
    );
    const { got, err } = await collect(call, 5000);
    expect(got).toEqual([]);
    expect(err).toBeInstanceOf(C.StreamError);
    expect((err as Client.StreamError).code).toBe('UNAUTHENTICATED');
    // Asked once more after the first 401, then stopped: never a retry loop.
    expect(asked).toBe(2);
    expect(srv.exchanges).toHaveLength(3);
    expect(principals).toEqual([]);
  });

  it("another principal's resume id: 403 and no data, from plain fetch and from the generated client", async () => {
    tokens.set('ada-1', { id: 'ada', name: 'Ada' }).set('bo-1', { id: 'bo', name: 'Bo' });
    const { srv, principals } = await serve({}, 5);
    const C = transports[transport].client;
    const mine = C.openCompletion(
      { baseUrl: srv.base, headers: () => ({ authorization: 'Bearer ada-1' }) },
      { params: { conversationId: CONVERSATION }, request: { prompt: 'secret', maxTokens: 50 } },
    );
    const ada = await collect(mine, 10_000);
    expect(ada.err).toBeUndefined();
    const stolen = ada.got[10]!.id;

    const raw = await fetch(`${srv.base}${PATH}?prompt=x`, { headers: { authorization: 'Bearer bo-1', [resumeHeader]: stolen } });
    expect(raw.status).toBe(403);
    const body = await raw.text();
    expect(JSON.parse(body)).toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(body).not.toContain('w1');

    const theirs = C.openCompletion(
      { baseUrl: srv.base, headers: () => ({ authorization: 'Bearer bo-1' }) },
      { params: { conversationId: CONVERSATION }, request: { prompt: 'x' }, resumeFrom: stolen },
    );
    const bo = await collect(theirs, 5000);
    expect(bo.got).toEqual([]);
    expect((bo.err as Client.StreamError).code).toBe('PERMISSION_DENIED');
    // Only Ada's own call ever reached a handler.
    expect(principals).toEqual([{ id: 'ada', name: 'Ada' }]);
  });

  it('credentials refreshed at a reconnect are used: a stale token gets 401, the fresh one resumes, every message once', async () => {
    tokens.clear();
    tokens.set('t1', { id: 'ada', name: 'Ada' });
    const { srv, principals } = await serve({}, 2);
    const C = transports[transport].client;
    // What the app's token cache hands out: t1, then (after t1 is revoked) t1 once more, stale, then t2.
    const handedOut: string[] = [];
    let next = ['t1', 't1', 't2'];
    const call = C.openCompletion(
      {
        baseUrl: srv.base,
        maxRetryMs: 20,
        headers: async () => {
          const t = next.length > 1 ? next.shift()! : next[0]!;
          handedOut.push(t);
          return { authorization: `Bearer ${t}` };
        },
      },
      { params: { conversationId: CONVERSATION }, request: { prompt: 'refresh', maxTokens: 60 } },
    );
    let n = 0;
    const { got, err } = await collect(call, 15_000, () => {
      if (++n !== 20) return;
      // The token expires and the connection drops together, as when a proxy cuts a long stream.
      tokens.delete('t1');
      tokens.set('t2', { id: 'ada', name: 'Ada' });
      srv.exchanges.at(-1)!.req.socket.destroy();
    });
    expect(err).toBeUndefined();
    expect(withoutIds(got)).toEqual(expected('refresh', 60));
    expect(got.map((m) => m.id)).toEqual(got.map((_, i) => `${got[0]!.id.split('.')[0]}.${i + 1}`));
    expect(handedOut).toEqual(['t1', 't1', 't2']);
    expect(statuses(srv)).toEqual([
      ['Bearer t1', 200],
      ['Bearer t1', 401],
      ['Bearer t2', 200],
    ]);
    expect(srv.exchanges[2]!.req.headers[resumeHeader]).toBe(got[19]!.id);
    expect(principals).toEqual([
      { id: 'ada', name: 'Ada' },
      { id: 'ada', name: 'Ada' },
    ]);
    next = [];
  });

  it('the concurrent-stream limit: one stream too many is RESOURCE_EXHAUSTED; another principal is not affected', async () => {
    tokens.set('ada-1', { id: 'ada', name: 'Ada' }).set('bo-1', { id: 'bo', name: 'Bo' });
    const { srv } = await serve({ maxStreamsPerPrincipal: 2 }, 50);
    const C = transports[transport].client;
    const open = (token: string, maxTokens: number, signal?: AbortSignal) =>
      C.openCompletion(
        { baseUrl: srv.base, headers: () => ({ authorization: `Bearer ${token}` }) },
        { params: { conversationId: CONVERSATION }, request: { prompt: 'slow', maxTokens }, ...(signal ? { signal } : {}) },
      );
    const stop = new AbortController();
    const running = [open('ada-1', 1000, stop.signal), open('ada-1', 1000, stop.signal), open('bo-1', 1000, stop.signal)];
    const first = running.map((call) => call[Symbol.asyncIterator]().next());
    await Promise.all(first);

    const { got, err } = await collect(open('ada-1', 1), 5000);
    expect(got).toEqual([]);
    expect(err).toBeInstanceOf(C.StreamError);
    expect((err as Client.StreamError).code).toBe('RESOURCE_EXHAUSTED');
    const raw = await fetch(`${srv.base}${PATH}?prompt=x`, { headers: { authorization: 'Bearer ada-1' } });
    expect(raw.status).toBe(429);

    stop.abort();
    // Once the server has seen Ada's streams close, she may open another.
    await until(() => srv.exchanges.slice(0, 3).every((x) => x.res.writableEnded || x.res.destroyed), 2000, 'streams closed');
    const again = await collect(open('ada-1', 2), 5000);
    expect(again.err).toBeUndefined();
    expect(again.got.at(-1)?.type).toBe('done');
  }, 20_000);
});
