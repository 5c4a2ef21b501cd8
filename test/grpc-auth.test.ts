// Authentication over gRPC end to end: the generated servers for test/fixtures/grpc/market.yaml
// (auth unsaid: required once there is a hook) and spec/ingest.yaml (auth: required) with an
// `authenticate` hook, driven by @grpc/grpc-js (a peer nobody here wrote) and the generated Node
// client on 127.0.0.1. Nobody reads a stream without credentials or one another principal opened;
// tokens refreshed at a reconnect are the ones used; one principal cannot open streams without bound.

import type { AddressInfo, Server, Socket } from 'node:net';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAuthenticate, createHandlers as createIngestHandlers, type Agent } from '../examples/ingest/handlers.ts';
import * as Ingest from '../generated/ingest/server.ts';
import { generate } from '../generator/generate.ts';
import { within } from './http-harness.ts';
import { removeWorkDirs, ROOT, workDir } from './support/tools.ts';

type Any = any;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface User {
  readonly id: string;
  readonly name: string;
}
/** Bearer tokens the market server accepts; a test revokes one by deleting it. */
const tokens = new Map<string, User>();
/** Every hook call: the authorization metadata and the resume token it was shown. */
const asked: [string | null, string | undefined][] = [];
const authenticate = (req: Any): User | undefined => {
  const header: string | null = req.headers.get('authorization');
  asked.push([header, req.resumeFrom]);
  if (!header) return undefined;
  if (header === 'Bearer banned') throw new (serverMod.StreamError)('PERMISSION_DENIED', 'this account is suspended');
  const user = tokens.get(header.replace(/^Bearer /, ''));
  if (!user) throw new (serverMod.StreamError)('UNAUTHENTICATED', 'token expired or unknown');
  return user;
};

/** Principals the market handlers were called with, in order. */
const principals: unknown[] = [];
const market = {
  async *quotes({ request, signal, resumeFrom = 0, principal }: Any) {
    principals.push(principal);
    for (let i = resumeFrom; i < request.count; i++) {
      // Long calls are paced, so a test can cut or crowd the connection mid-stream.
      if (request.count > 10) await sleep(5);
      if (signal.aborted) return;
      yield { type: 'quote', data: { price: i, side: 'buy', at: i } };
    }
    return { type: 'end', data: { sent: request.count } };
  },
  async *orders({ messages }: Any) {
    for await (const _ of messages);
    return { type: 'receipt', data: { accepted: 0, total: 0 } };
  },
  async *desk() {
    return { type: 'closed' };
  },
};

let serverMod: Any;
let clientMod: Any;
let protoDir: string;
beforeAll(async () => {
  const out = join(workDir('grpc-auth'), 'out');
  const r = await generate({ spec: 'test/fixtures/grpc/market.yaml', out, cwd: ROOT });
  expect(r.ok).toBe(true);
  protoDir = join(out, 'proto');
  serverMod = await import(`file://${join(out, 'server.ts')}`);
  clientMod = await import(`file://${join(out, 'client.ts')}`);
});
afterAll(() => removeWorkDirs());

interface Listening {
  readonly base: string;
  readonly peer: Any;
  /** Cuts every connection the server holds, as a proxy that drops a long call would. */
  kill(): void;
  close(): Promise<void>;
}
let current: Listening | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

async function listen(router: Any, proto: { file: string; service: (pkg: Any) => Any }): Promise<Listening> {
  const server: Server = serverMod.createH2cServer(router.node);
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const def = protoLoader.loadSync(proto.file, { includeDirs: [proto.file.startsWith('market') ? protoDir : join(ROOT, 'generated/ingest/proto')], longs: String, enums: String, oneofs: true });
  const Service = proto.service(grpc.loadPackageDefinition(def));
  const peer = new Service(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return (current = {
    base: `http://127.0.0.1:${port}`,
    peer,
    kill: () => sockets.forEach((s) => s.destroy()),
    async close() {
      peer.close();
      router.close();
      sockets.forEach((s) => s.destroy());
      await new Promise((r) => server.close(r));
    },
  });
}

function serveMarket(options: Any = {}): Promise<Listening> {
  principals.length = 0;
  asked.length = 0;
  const router = serverMod.createRouter(market, { authenticate, onError: () => {}, ...options });
  return listen(router, { file: 'market/v1/market.proto', service: (pkg) => pkg.market.v1.MarketService });
}

const bearer = (token: string | undefined) => {
  const m = new grpc.Metadata();
  if (token !== undefined) m.set('authorization', `Bearer ${token}`);
  return m;
};

/** Every message and the final status of a grpc-js response stream. */
function drain(call: Any): Promise<{ data: Any[]; status: Any }> {
  const data: Any[] = [];
  return within(
    new Promise((resolve) => {
      call.on('data', (d: Any) => data.push(d));
      call.on('error', () => {});
      call.on('status', (status: Any) => resolve({ data, status }));
    }),
    5000,
    'grpc-js call',
  );
}

/** Everything a generated-client call yields, and how it ended. */
async function collect(call: AsyncIterable<Any>, ms: number, each?: (m: Any) => void): Promise<{ got: Any[]; err: unknown }> {
  const got: Any[] = [];
  let err: unknown;
  await within(
    (async () => {
      try {
        for await (const m of call) {
          got.push(m);
          each?.(m);
        }
      } catch (e) {
        err = e;
      }
    })(),
    ms,
    'client call',
  );
  return { got, err };
}

describe('createRouter', () => {
  it('refuses a contract whose streams say auth: required when there is no hook', () => {
    expect(() => Ingest.createRouter(createIngestHandlers())).toThrow(
      'streamspec: stream "metrics" requires authentication (auth: required in the contract), but createRouter was given no authenticate hook.',
    );
  });

  it('types ctx.principal as what authenticate returns (checked by tsc over the tests)', () => {
    const router = Ingest.createRouter<Agent>(
      {
        async *metrics(ctx) {
          const id: string = ctx.principal.id;
          // @ts-expect-error the principal is the hook's type, not a string
          const wrong: string = ctx.principal;
          return { type: 'summary', data: { accepted: id.length + wrong.length, rejected: 0 } };
        },
      },
      { authenticate: createAuthenticate({}) },
    );
    router.close();
  });
});

describe('ingest (client-streaming, auth: required)', () => {
  it('no credentials: UNAUTHENTICATED before the handler reads a batch; a known token gets the summary', async () => {
    const batches: number[] = [];
    const router = Ingest.createRouter(createIngestHandlers({ onBatch: (n) => batches.push(n) }), {
      authenticate: createAuthenticate({ 'tok-a1': 'a1' }),
      onError: () => {},
    });
    const { peer } = await listen(router, { file: 'ingest/v1/ingest.proto', service: (pkg) => pkg.ingest.v1.IngestService });
    const send = (token: string | undefined) =>
      within(
        new Promise<{ err: Any; res: Any }>((resolve) => {
          const call = peer.metrics(bearer(token), (err: Any, res: Any) => resolve({ err, res }));
          call.write({ open: { agentId: 'a1' } });
          call.write({ batch: { sequence: '1', samples: [{ name: 'cpu', kind: 'KIND_GAUGE', value: 1, timeUnixNano: '1' }] } });
          call.end();
        }),
        5000,
        'metrics',
      );
    const anonymous = await send(undefined);
    expect(anonymous.err.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(anonymous.err.metadata.get('streamspec-error-code')).toEqual(['UNAUTHENTICATED']);
    const stranger = await send('forged');
    expect(stranger.err.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(decodeURIComponent(stranger.err.details)).toBe('unknown or revoked token');
    expect(batches).toEqual([]);
    const known = await send('tok-a1');
    expect(known.err).toBeNull();
    expect(known.res).toMatchObject({ event: 'summary', summary: { accepted: '1' } });
    expect(batches).toEqual([1]);
  });
});

describe('market (server-streaming, resume by token)', () => {
  it('no credentials: UNAUTHENTICATED and no message (grpc-js); the client asks its headers once more, then StreamError', async () => {
    const srv = await serveMarket();
    const { data, status } = await drain(srv.peer.quotes({ symbol: 'ABC', count: 3 }));
    expect(data).toEqual([]);
    expect(status.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(decodeURIComponent(status.details)).toBe('stream quotes requires authentication');

    asked.length = 0;
    let headersAsked = 0;
    const call = clientMod.createClient({ baseUrl: srv.base, headers: () => (headersAsked++, {}) }).quotes({ params: { symbol: 'ABC' }, request: { count: 3 } });
    const { got, err } = await collect(call, 5000);
    expect(got).toEqual([]);
    expect(err).toBeInstanceOf(clientMod.StreamError);
    expect(err).toMatchObject({ code: 'UNAUTHENTICATED' });
    // Asked once more after the first rejection, then stopped: never a retry loop.
    expect(headersAsked).toBe(2);
    expect(asked).toEqual([
      [null, undefined],
      [null, undefined],
    ]);
    expect(principals).toEqual([]);
  });

  it("the hook sees the call's metadata, its cookies and the peer's address", async () => {
    const seen: Any[] = [];
    const router = serverMod.createRouter(market, {
      authenticate: (req: Any) => (seen.push({ stream: req.stream, cookies: { ...req.cookies }, remoteAddress: req.remoteAddress, agent: req.headers.get('x-agent') }), { id: 'ada' }),
    });
    const srv = await listen(router, { file: 'market/v1/market.proto', service: (pkg) => pkg.market.v1.MarketService });
    const metadata = new grpc.Metadata();
    metadata.set('cookie', 'sid=s%201; theme=dark');
    metadata.set('x-agent', 'grpc-js');
    const { status } = await drain(srv.peer.quotes({ symbol: 'ABC', count: 1 }, metadata));
    expect(status.code).toBe(grpc.status.OK);
    expect(seen).toEqual([{ stream: 'quotes', cookies: { sid: 's 1', theme: 'dark' }, remoteAddress: '127.0.0.1', agent: 'grpc-js' }]);
  });

  it('a rejection the hook calls PERMISSION_DENIED is not retried', async () => {
    const srv = await serveMarket();
    let headersAsked = 0;
    const call = clientMod
      .createClient({ baseUrl: srv.base, headers: () => (headersAsked++, { authorization: 'Bearer banned' }) })
      .quotes({ params: { symbol: 'ABC' }, request: { count: 3 } });
    const { got, err } = await collect(call, 5000);
    expect(got).toEqual([]);
    expect(err).toMatchObject({ name: 'StreamError', code: 'PERMISSION_DENIED', message: 'this account is suspended' });
    expect(headersAsked).toBe(1);
  });

  it("another principal's resume token: PERMISSION_DENIED and none of the messages, from grpc-js and from the client", async () => {
    tokens.set('ada-1', { id: 'ada', name: 'Ada' }).set('bo-1', { id: 'bo', name: 'Bo' });
    const srv = await serveMarket();
    const client = (token: string) => clientMod.createClient({ baseUrl: srv.base, headers: () => ({ authorization: `Bearer ${token}` }) });
    const ada = await collect(client('ada-1').quotes({ params: { symbol: 'ABC' }, request: { count: 5 } }), 5000);
    expect(ada.err).toBeUndefined();
    expect(ada.got.map((m: Any) => m.type)).toEqual(['quote', 'quote', 'quote', 'quote', 'quote', 'end']);
    const stolen = ada.got[1].id;

    const theirs = await drain(srv.peer.quotes({ symbol: 'ABC', count: 5, resumeToken: stolen }, bearer('bo-1')));
    expect(theirs.data).toEqual([]);
    expect(theirs.status.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(theirs.status.metadata.get('streamspec-error-code')).toEqual(['PERMISSION_DENIED']);

    let headersAsked = 0;
    const bo = await collect(
      clientMod
        .createClient({ baseUrl: srv.base, headers: () => (headersAsked++, { authorization: 'Bearer bo-1' }) })
        .quotes({ params: { symbol: 'ABC' }, request: { count: 5 }, resumeFrom: stolen }),
      5000,
    );
    expect(bo.got).toEqual([]);
    expect(bo.err).toMatchObject({ name: 'StreamError', code: 'PERMISSION_DENIED' });
    expect(headersAsked).toBe(1);
    // The owner resumes as before; only Ada's own calls ever reached a handler.
    const mine = await drain(srv.peer.quotes({ symbol: 'ABC', count: 5, resumeToken: stolen }, bearer('ada-1')));
    expect(mine.status.code).toBe(grpc.status.OK);
    expect(mine.data.map((d: Any) => d.seq)).toEqual(['3', '4', '5', '6']);
    expect(principals).toEqual([{ id: 'ada', name: 'Ada' }]);
    // The hook saw each resume token it was asked about.
    expect(asked.slice(1)).toEqual([
      ['Bearer bo-1', stolen],
      ['Bearer bo-1', stolen],
      ['Bearer ada-1', stolen],
    ]);
  });

  it('credentials refreshed at a reconnect are used: a stale token is UNAUTHENTICATED, the fresh one resumes, every message once', async () => {
    tokens.clear();
    tokens.set('t1', { id: 'ada', name: 'Ada' });
    const srv = await serveMarket();
    const handedOut: string[] = [];
    const next = ['t1', 't1', 't2'];
    const call = clientMod
      .createClient({
        baseUrl: srv.base,
        maxRetryMs: 20,
        headers: async () => {
          const t = next.length > 1 ? next.shift()! : next[0]!;
          handedOut.push(t);
          return { authorization: `Bearer ${t}` };
        },
      })
      .quotes({ params: { symbol: 'SLOW' }, request: { count: 60 } });
    let n = 0;
    const { got, err } = await collect(call, 15_000, () => {
      if (++n !== 20) return;
      // The token expires and the connection drops together, as when a proxy cuts a long call.
      tokens.delete('t1');
      tokens.set('t2', { id: 'ada', name: 'Ada' });
      srv.kill();
    });
    expect(err).toBeUndefined();
    expect(got.map((m: Any) => m.data.price ?? m.data.sent)).toEqual([...Array.from({ length: 60 }, (_, i) => i), 60]);
    const stream = got[0].id.split('.')[0];
    expect(got.map((m: Any) => m.id)).toEqual(got.map((_: Any, i: number) => `${stream}.${i + 1}`));
    expect(handedOut).toEqual(['t1', 't1', 't2']);
    // Fresh, then the stale token on the resume (rejected), then the fresh one resumes where it was.
    expect(asked.map(([h]) => h)).toEqual(['Bearer t1', 'Bearer t1', 'Bearer t2']);
    expect(asked[0]![1]).toBeUndefined();
    expect(asked[1]![1]).toBe(asked[2]![1]);
    expect(Number(asked[2]![1]!.split('.')[1])).toBeGreaterThanOrEqual(20);
    expect(principals).toEqual([
      { id: 'ada', name: 'Ada' },
      { id: 'ada', name: 'Ada' },
    ]);
  });

  it('the concurrent-stream limit: one call too many is RESOURCE_EXHAUSTED, not retried; another principal is not affected', async () => {
    tokens.set('ada-1', { id: 'ada', name: 'Ada' }).set('bo-1', { id: 'bo', name: 'Bo' });
    const srv = await serveMarket({ maxStreamsPerPrincipal: 2 });
    let headersAsked = 0;
    const open = (token: string, count: number, signal?: AbortSignal) =>
      clientMod
        .createClient({ baseUrl: srv.base, headers: () => (headersAsked++, { authorization: `Bearer ${token}` }) })
        .quotes({ params: { symbol: 'SLOW' }, request: { count }, ...(signal ? { signal } : {}) });
    const stop = new AbortController();
    const running = [open('ada-1', 100_000, stop.signal), open('ada-1', 100_000, stop.signal), open('bo-1', 100_000, stop.signal)];
    const iterators = running.map((call: Any) => call[Symbol.asyncIterator]());
    await within(Promise.all(iterators.map((it: Any) => it.next())), 5000, 'three streams open');

    headersAsked = 0;
    const { got, err } = await collect(open('ada-1', 1), 5000);
    expect(got).toEqual([]);
    expect(err).toMatchObject({ name: 'StreamError', code: 'RESOURCE_EXHAUSTED' });
    expect(headersAsked).toBe(1);
    const raw = await drain(srv.peer.quotes({ symbol: 'ABC', count: 1 }, bearer('ada-1')));
    expect(raw.data).toEqual([]);
    expect(raw.status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    // Bo has one open: he may open another.
    const bo = await drain(srv.peer.quotes({ symbol: 'ABC', count: 1 }, bearer('bo-1')));
    expect(bo.status.code).toBe(grpc.status.OK);

    stop.abort();
    await Promise.all(iterators.map((it: Any) => it.next().catch(() => {})));
    // Once the server has seen Ada's calls end, she may open another.
    let again: { got: Any[]; err: unknown } | undefined;
    for (const end = performance.now() + 3000; performance.now() < end; await sleep(20)) {
      again = await collect(open('ada-1', 2), 5000);
      if (again.err === undefined) break;
    }
    expect(again!.err).toBeUndefined();
    expect(again!.got.at(-1)?.type).toBe('end');
  }, 20_000);
});
