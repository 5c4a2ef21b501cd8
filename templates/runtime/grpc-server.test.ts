import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { create } from '@bufbuild/protobuf';
import { Code, createContextValues } from '@connectrpc/connect';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { generate } from '../../generator/generate.ts';
import { removeWorkDirs, ROOT, workDir } from '../../test/support/tools.ts';
import { ContractViolation as SharedViolation, type Message } from './frames.ts';
import { ContractViolation } from './grpc-server.ts';
import { createInjector } from './injector.ts';

/** A handler's iterator whose next() the test resolves by hand. */
function manual() {
  const pulls: ((r: IteratorResult<Message, Message | void>) => void)[] = [];
  let returned = 0;
  const source: AsyncIterator<Message, Message | void> = {
    next: () => new Promise((r) => pulls.push(r)),
    return: async () => {
      returned++;
      return { done: true, value: undefined };
    },
  };
  return { source, pulls, returned: () => returned };
}

const problem = (n: number): Message => ({ type: 'problem', data: { code: 'INVALID_REQUEST', message: `bad ${n}` } });
const settled = async (p: Promise<unknown>) => {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setTimeout(r, 0));
  return done;
};

describe('createInjector', () => {
  it('answers a waiting error before the handler, and keeps an overtaken pull for the next call', async () => {
    const inject = createInjector(8);
    const h = manual();
    const it = inject.wrap(h.source);
    inject.push(problem(1));
    expect(await it.next()).toEqual({ done: false, value: problem(1) });
    // The handler is pulled once; an error pushed while that pull waits wins the race.
    const first = it.next();
    inject.push(problem(2));
    expect(await first).toEqual({ done: false, value: problem(2) });
    expect(h.pulls).toHaveLength(1);
    // The next call takes the same pending pull, not a second one.
    const second = it.next();
    h.pulls[0]!({ done: false, value: { type: 'fill', data: 1 } });
    expect(await second).toEqual({ done: false, value: { type: 'fill', data: 1 } });
    expect(h.pulls).toHaveLength(1);
    await it.return!();
    expect(h.returned()).toBe(1);
  });

  it('holds the reader back while `limit` errors wait, until the pump takes one', async () => {
    const inject = createInjector(2);
    const it = inject.wrap(manual().source);
    expect(await inject.room()).toBe(true);
    inject.push(problem(1));
    expect(await inject.room()).toBe(true);
    inject.push(problem(2));
    const room = inject.room();
    expect(await settled(room)).toBe(false);
    await it.next();
    expect(await room).toBe(true);
  });

  it('lets a held-back reader go, with false, once the call is over', async () => {
    const inject = createInjector(1);
    inject.push(problem(1));
    const room = inject.room();
    expect(await settled(room)).toBe(false);
    inject.close();
    expect(await room).toBe(false);
    expect(await inject.room()).toBe(false);
  });
});

it('reports contract violations as the one ContractViolation every router shares', () => {
  // An onError that tests `instanceof` against frames.ts (as the HTTP and WebSocket routers throw) sees gRPC's too.
  expect(ContractViolation).toBe(SharedViolation);
});

// The rpc implementations as Connect calls them, in process, on the generated market server
// (which carries a copy of this file): what Connect is handed for a streaming rpc, and how it ends.
describe('createGrpcRouter: server-streaming rpc', () => {
  type Any = any;
  let serverMod: Any;
  let pb: Any;
  beforeAll(async () => {
    const out = join(workDir('grpc-server-unit'), 'out');
    const r = await generate({ spec: 'test/fixtures/grpc/market.yaml', out, cwd: ROOT });
    expect(r.diagnostics.filter((x: Any) => x.severity === 'error')).toEqual([]);
    serverMod = await import(pathToFileURL(join(out, 'server.ts')).href);
    pb = await import(pathToFileURL(join(out, 'proto/market/v1/market_pb.ts')).href);
  }, 60_000);
  afterAll(() => removeWorkDirs());

  /** A market router whose `quotes` handler records its calls; `impl` is the Quotes rpc as registered. */
  function market(options: Any = {}) {
    const calls: { aborted: () => boolean; finished: boolean }[] = [];
    const router = serverMod.createRouter(
      {
        async *quotes({ request, signal }: Any) {
          const call = { aborted: () => signal.aborted, finished: false };
          calls.push(call);
          try {
            for (let i = 0; i < request.count; i++) yield { type: 'quote', data: { price: 1 + i, side: 'buy', at: i } };
            return { type: 'end', data: { sent: request.count } };
          } finally {
            call.finished = true;
          }
        },
        async *orders() {
          return { type: 'receipt', data: { accepted: 0, total: 0 } };
        },
        async *desk() {
          return { type: 'closed' };
        },
      },
      {
        authenticate: (req: Any) => {
          const token = req.headers.get('authorization');
          if (token === 'bad') throw new serverMod.StreamError('UNAUTHENTICATED', 'token unknown');
          return token ? { id: token } : undefined;
        },
        onError: () => {},
        ...options,
      },
    );
    let impl: Any;
    router.routes({ rpc: (m: Any, f: Any) => void (m.name === 'Quotes' && (impl = f)) } as never);
    const call = (count: number, token?: string) => {
      const ctx = {
        signal: new AbortController().signal,
        requestHeader: new Headers(token ? { authorization: token } : {}),
        responseHeader: new Headers(),
        responseTrailer: new Headers(),
        values: createContextValues(),
      };
      return { ctx, it: impl(create(pb.QuotesRequestSchema, { symbol: 'ACME', count }), ctx) as AsyncIterator<Any> };
    };
    return { router, calls, call };
  }

  it('gives Connect the responses in order, numbered, then the terminal one, with the stream id header', async () => {
    const m = market();
    const { ctx, it: responses } = m.call(3, 'ada');
    const got: [bigint, string][] = [];
    for (let r = await responses.next(); !r.done; r = await responses.next()) got.push([r.value.seq, r.value.event.case]);
    expect(got).toEqual([[1n, 'quote'], [2n, 'quote'], [3n, 'quote'], [4n, 'end']]);
    expect(ctx.responseHeader.get('streamspec-stream-id')).toMatch(/.+/);
    m.router.close();
  });

  it('refuses a caller on the first next(), never synchronously, and never starts the handler', async () => {
    const m = market();
    let first!: Promise<unknown>;
    expect(() => (first = m.call(3, 'bad').it.next())).not.toThrow();
    await expect(first).rejects.toMatchObject({ code: Code.Unauthenticated });
    expect(m.calls).toHaveLength(0);
    m.router.close();
  });

  it("when Connect stops reading mid-stream: aborts the handler, closes it, and frees the principal's slot", async () => {
    const m = market({ maxStreamsPerPrincipal: 1 });
    const a = m.call(1000, 'ada');
    await a.it.next();
    await a.it.next();
    // Over the limit while the first call runs...
    await expect(m.call(1, 'ada').it.next()).rejects.toMatchObject({ code: Code.ResourceExhausted });
    await a.it.return!();
    expect(m.calls[0]!.aborted()).toBe(true);
    await vi.waitFor(() => expect(m.calls[0]!.finished).toBe(true), { timeout: 1000 });
    // ...and admitted once it ended.
    expect((await m.call(1, 'ada').it.next()).value.event.case).toBe('quote');
    m.router.close();
  });
});
