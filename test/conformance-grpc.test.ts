// Issue 6 for the gRPC transport: the generated conformance suites pass against the example ingest
// collector (which requires credentials: they come from the fixture file's headers) and against
// `streamspec mock --transport grpc` for every direction (test/fixtures/grpc/market.yaml), run as
// generated: a vitest child pointed at the server by STREAMSPEC_BASE_URL. Broken gRPC servers are
// judged in test/conformance-grpc-broken.test.ts.

import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAuthenticate, createHandlers } from '../examples/ingest/handlers.ts';
import { createH2cServer, createRouter } from '../generated/ingest/server.ts';
import { generate } from '../generator/generate.ts';
import { startMock } from '../generator/mock.ts';
import { removeWorkDirs, ROOT, workDir } from './support/tools.ts';
import { runSuites } from './support/conformance.ts';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});
afterAll(removeWorkDirs);

type Any = any;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** test/fixtures/grpc/market.yaml generated once: every direction, resume, a short heartbeat. */
let market: string;
beforeAll(async () => {
  market = join(workDir('conformance-grpc-market'), 'out');
  const r = await generate({ spec: 'test/fixtures/grpc/market.yaml', out: market, cwd: ROOT });
  expect(r.ok, JSON.stringify(r.diagnostics)).toBe(true);
});

const runSuite = (root: string, baseUrl: string, fixtures = '') => runSuites('grpc', root, baseUrl, { fixtures });

/** The example collector (generated server + examples/ingest handlers), requiring a bearer token. */
async function collector(): Promise<string> {
  const router = createRouter(createHandlers(), { authenticate: createAuthenticate({ 'tok-alpha': 'alpha' }), conformanceControl: true, onError: () => {} });
  const server = createH2cServer(router.node);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(async () => {
    router.close();
    await new Promise((r) => server.close(r));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('the generated ingest suite against the example collector', () => {
  it('passes with the credentials of the fixture file', async () => {
    const file = join(workDir('conformance-grpc-fixtures'), 'fixtures.json');
    writeFileSync(file, JSON.stringify({ '*': { headers: { authorization: 'Bearer tok-alpha' } } }));
    const { status, out } = await runSuite(join(ROOT, 'generated', 'ingest'), await collector(), file);
    expect(status, out).toBe(0);
    expect(out, out).toMatch(/Test Files\s+1 passed/);
    // A client-to-server stream: its one response is the terminal message, then OK.
    for (const title of ['frames and content type follow the transport', 'every message is valid against its schema', 'exactly one terminal message'])
      expect(out, title).toMatch(new RegExp(`✓ .*${title}`));
  });

  it('fails, naming the status and the headers to check, without them', async () => {
    const { status, out } = await runSuite(join(ROOT, 'generated', 'ingest'), await collector());
    expect(status, out).not.toBe(0);
    expect(out).toMatch(/stream metrics: ended the call with status UNAUTHENTICATED \(UNAUTHENTICATED: [^)]*\) instead of streaming \(check the fixture's params, request, messages and headers\)/);
  });
});

describe('the generated market suites (every direction) against streamspec mock --transport grpc --conformance-control', () => {
  it('pass, with the control-endpoint checks run, not skipped', async () => {
    const mock = await startMock({ spec: 'test/fixtures/grpc/market.yaml', cwd: ROOT, count: 40, interval: 5, conformanceControl: true, onError: () => {} });
    closers.push(() => mock.close());
    const { status, out: text } = await runSuite(market, mock.url);
    expect(status, text).toBe(0);
    expect(text, text).toMatch(/Test Files\s+3 passed/);
    for (const [title, times] of [
      ['sequence numbers go up by exactly one', 3],
      ['exactly one terminal message', 3],
      ['a resume after the end ends OK with no messages', 1],
      ['a resume from a mid-stream id yields the rest exactly once', 1],
      ['a resume from an unknown id is RESUME_EXPIRED', 1],
      ['an invalid request ends INVALID_ARGUMENT before the stream starts', 1],
      // quotes (server-to-client) and desk (bidirectional); orders has no server messages to hold.
      ['a slow consumer holds the producer back', 2],
      ['the handler stops when the consumer goes away', 2],
    ] as const)
      expect(text.match(new RegExp(`✓ .*${title}`, 'g'))?.length, `${title}\n${text}`).toBe(times);
  });
});

describe("the gRPC router's control endpoint", () => {
  it('counts what a slow consumer left unsent: at most buffer, while HTTP/2 flow control holds the producer; then the handler stops when the consumer leaves', async () => {
    const server: Any = await import(`file://${join(market, 'server.ts')}`);
    const { quotesConformance, fixtures }: Any = await import(`file://${join(market, 'conformance', 'streams.ts')}`);
    const { control }: Any = await import(`file://${join(market, 'runtime', 'conformance.ts')}`);
    const TOTAL = 10_000;
    let produced = 0;
    const router = server.createRouter(
      {
        // 10 KB notes as fast as they are pulled: only backpressure can stop it short of TOTAL.
        async *quotes() {
          for (; produced < TOTAL; produced++) yield { type: 'note', data: 'x'.repeat(10_000) };
          return { type: 'end', data: { sent: TOTAL } };
        },
        async *orders() {
          return { type: 'receipt', data: { accepted: 0, total: 0 } };
        },
        async *desk() {
          return { type: 'closed' };
        },
      },
      { conformanceControl: true, onError: () => {} },
    );
    const h2c = server.createH2cServer(router.node);
    await new Promise<void>((r) => h2c.listen(0, '127.0.0.1', r));
    closers.push(async () => {
      router.close();
      await new Promise((r) => h2c.close(r));
    });
    const base = `http://127.0.0.1:${(h2c.address() as AddressInfo).port}`;
    let held: Any;
    let streamId = '';
    await quotesConformance.grpc.record(quotesConformance, fixtures.quotes, base, {
      until: (seen: Any[]) => seen.some((s) => s.kind === 'frame'),
      onSeen: async (s: Any) => {
        if (s.kind !== 'frame') return;
        streamId = s.streamId;
        await sleep(500); // the consumer stalls: every buffer between it and the handler fills
        held = await control(base, streamId);
      },
    });
    const buffer = quotesConformance.backpressure.buffer;
    expect(held.handler).toBe('running');
    expect(held.pulled).toBeGreaterThan(buffer); // the producer ran until the windows were full...
    expect(held.pulled).toBeLessThan(TOTAL / 10); // ...and was then held back
    expect(held.maxQueued).toBeLessThanOrEqual(buffer);
    for (const end = performance.now() + 1_500; (await control(base, streamId)).handler !== 'done'; await sleep(20))
      if (performance.now() > end) throw new Error('the handler still runs 1.5 s after the consumer left');
  });
});
