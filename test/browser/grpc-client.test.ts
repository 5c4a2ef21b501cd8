// The generated gRPC browser client (client.browser.ts, connect-web) of
// test/fixtures/grpc/market.yaml, bundled with esbuild for the browser and run inside Chromium
// against the generated server on another origin (createH2cServer with the router's CORS option),
// over the Connect protocol and gRPC-web: typed messages, resume after the server kills the
// connection, typed errors with the mapped codes, and an AbortSignal that stops the handler.

import { join } from 'node:path';
import type { AddressInfo, Server, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../../generator/generate.ts';
import { bundleForBrowser, launchChromium, startServer, waitFor, type TestServer } from '../support/browser.ts';
import { removeWorkDirs, ROOT, workDir } from '../support/tools.ts';

type Any = any;

/** What the quotes handler calls did, for assertions on the server side. */
interface Calls {
  readonly resumes: (number | undefined)[];
  /** The `x-call` header the client's headers function set, per call. */
  readonly headers: (string | null)[];
  aborted: number;
}

/**
 * Quotes handlers driven by the symbol: ABC yields `count` quotes then a note and `end`; KILL
 * does the same, but the server drops every connection after quote 10 of the first call; SLOW
 * yields until aborted; NONE, LIMIT and BUG fail (a contract code, a retryable one, a crash).
 */
function handlers(server: Any, calls: Calls, kill: () => void) {
  const { StreamError } = server;
  const quote = (i: number, side = 'buy') => ({ type: 'quote', data: { price: 100.25 + i, side, at: 1_700_000_000_000 + i, ...(i === 0 ? { venues: [['XNAS', 'XNYS'], ['BATS']] } : {}) } });
  return {
    async *quotes({ params, request, signal, resumeFrom, headers }: Any) {
      calls.resumes.push(resumeFrom);
      calls.headers.push(headers.get('x-call'));
      signal.addEventListener('abort', () => calls.aborted++, { once: true });
      if (params.symbol === 'NONE') throw new StreamError('SYMBOL_NOT_FOUND', 'no such symbol');
      if (params.symbol === 'LIMIT') throw new StreamError('RATE_LIMITED', 'slow down', { retryable: true });
      if (params.symbol === 'BUG') throw new Error('a bug with secrets in it');
      for (let i = resumeFrom ?? 0; params.symbol === 'SLOW' || i < request.count; i++) {
        yield quote(i, request.side);
        if (params.symbol === 'KILL' && resumeFrom === undefined && i + 1 === 10) kill();
        await sleep(params.symbol === 'SLOW' ? 20 : 1);
      }
      yield { type: 'note', data: 'done' };
      return { type: 'end', data: { sent: request.count } };
    },
    async *orders() {
      return { type: 'receipt', data: { accepted: 0, total: 0 } };
    },
    async *desk() {
      return { type: 'closed' };
    },
  };
}

let out: string;
let browser: Browser;
let page: Page;
let bundle: string;
let serverMod: Any;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  out = join(workDir('grpc-browser'), 'out');
  const r = await generate({ spec: 'test/fixtures/grpc/market.yaml', out, cwd: ROOT });
  expect(r.ok).toBe(true);
  serverMod = await import(`file://${join(out, 'server.ts')}`);
  [browser, bundle] = await Promise.all([launchChromium(), bundleForBrowser(`export { createClient } from ${JSON.stringify(join(out, 'client.browser.ts'))};`)]);
  page = await browser.newPage();
});
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});
afterAll(async () => {
  await browser?.close();
  removeWorkDirs();
});

/**
 * The page on one origin (a test server that serves only it and the bundle), the generated
 * router on another (createH2cServer, CORS for the page's origin); `kill()` drops every
 * connection the API server holds.
 */
async function serve(listed = true): Promise<{ web: TestServer; api: string; calls: Calls }> {
  const calls: Calls = { resumes: [], headers: [], aborted: 0 };
  const web = await startServer((_, res) => res.writeHead(404).end());
  web.file('/__test/client.js', bundle, 'text/javascript');
  const sockets = new Set<Socket>();
  const router = serverMod.createRouter(
    handlers(serverMod, calls, () => sockets.forEach((s) => s.destroy())),
    { onError: () => {}, ...(listed ? { cors: { origin: [web.origin] } } : {}) },
  );
  const api: Server = serverMod.createH2cServer(router.node);
  api.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  cleanups.push(async () => {
    router.close();
    sockets.forEach((s) => s.destroy());
    await new Promise((r) => api.close(r));
    await web.close();
  });
  await page.goto(web.page);
  await page.addScriptTag({ type: 'module', content: "import * as client from '/__test/client.js'; window.client = client;" });
  await page.waitForFunction(() => 'client' in window, undefined, { timeout: 10_000 });
  return { web, api: `http://127.0.0.1:${(api.address() as AddressInfo).port}`, calls };
}

interface PageCall {
  readonly baseUrl: string;
  readonly protocol: 'connect' | 'grpc-web';
  readonly symbol: string;
  readonly count?: number;
  readonly side?: string;
  readonly resumeFrom?: string;
  readonly abortAfter?: number;
}
interface Outcome {
  readonly messages: { type: string; id: string; data: unknown }[];
  readonly error?: { name: string; code?: string; message: string; retryable?: boolean };
  readonly states: string[];
  readonly lastId: string | undefined;
}

// Runs in the page: the bundled generated client, iterated to its end (bounded by 15 s).
async function iterateInPage(call: PageCall): Promise<Outcome> {
  const mod = (window as unknown as { client: Record<string, Function> }).client;
  const states: string[] = [];
  const messages: Outcome['messages'] = [];
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error('timed out')), 15_000);
  let headerCalls = 0;
  const stream = mod['createClient']!({ baseUrl: call.baseUrl, protocol: call.protocol, headers: () => ({ 'x-call': String(++headerCalls) }), maxRetryMs: 200 }).quotes({
    params: { symbol: call.symbol },
    request: { count: call.count ?? 1, ...(call.side ? { side: call.side } : {}) },
    resumeFrom: call.resumeFrom,
    signal: ac.signal,
    onState: (s: string) => states.push(s),
  });
  try {
    for await (const m of stream) {
      messages.push({ type: m.type, id: m.id, data: m.data });
      if (messages.length === call.abortAfter) ac.abort(new DOMException('the user left', 'AbortError'));
    }
  } catch (e) {
    const { name, code, message, retryable } = e as { name: string; code?: string; message: string; retryable?: boolean };
    return { messages, error: { name, code, message, retryable }, states, lastId: stream.lastId };
  } finally {
    clearTimeout(timer);
  }
  return { messages, states, lastId: stream.lastId };
}

/** Ids must be `<one streamId>.<1, 2, ...>`. */
function checkIds(messages: Outcome['messages']): void {
  const sid = /^[\w-]{22}(?=\.)/.exec(messages[0]?.id ?? '')?.[0];
  expect(sid, `first id ${messages[0]?.id}`).toBeDefined();
  expect(messages.map((m) => m.id)).toEqual(messages.map((_, i) => `${sid}.${i + 1}`));
}

// proto3 cannot tell an empty list from an absent one: quotes after the first arrive with `venues: []` (docs/grpc.md).
const quotes = (n: number, side = 'buy') =>
  Array.from({ length: n }, (_, i) => ({ type: 'quote', data: { price: 100.25 + i, side, at: 1_700_000_000_000 + i, venues: i === 0 ? [['XNAS', 'XNYS'], ['BATS']] : [] } }));
const withoutIds = (ms: Outcome['messages']) => ms.map(({ type, data }) => ({ type, data }));

describe.each(['connect', 'grpc-web'] as const)('the generated browser client in Chromium over %s', (protocol) => {
  it('delivers typed messages (enums, int64, lists of lists, wrappers) and ends right after the terminal message', async () => {
    const { api, calls } = await serve();
    const got = await page.evaluate(iterateInPage, { baseUrl: api, protocol, symbol: 'ABC', count: 3, side: 'sell' });
    expect(got.error).toBeUndefined();
    expect(withoutIds(got.messages)).toEqual([...quotes(3, 'sell'), { type: 'note', data: 'done' }, { type: 'end', data: { sent: 3 } }]);
    checkIds(got.messages);
    expect(got.lastId).toBe(got.messages.at(-1)!.id);
    expect(got.states).toEqual(['connecting', 'open', 'closed']);
    expect(calls.resumes).toEqual([undefined]);
  });

  it('resumes after the server kills the connection: every message exactly once', async () => {
    const { api, calls } = await serve();
    const got = await page.evaluate(iterateInPage, { baseUrl: api, protocol, symbol: 'KILL', count: 30 });
    expect(got.error).toBeUndefined();
    expect(withoutIds(got.messages)).toEqual([...quotes(30), { type: 'note', data: 'done' }, { type: 'end', data: { sent: 30 } }]);
    checkIds(got.messages);
    // On a loaded machine an attempt can outlast the contract's 1 s heartbeat timeout and be
    // made again (seen in CI: a 'reconnecting' before the first 'open'). That is the client
    // working, and it never loses or repeats a message (checked above): repeated states and
    // attempts before the first open are set aside, the rest must be exactly this.
    const states = got.states.filter((s, i, all) => s !== all[i - 1] && (s !== 'reconnecting' || all.slice(0, i).includes('open')));
    expect(states).toEqual(['connecting', 'open', 'reconnecting', 'open', 'closed']);
    expect(calls.resumes.length).toBeGreaterThanOrEqual(2);
    expect(calls.resumes[0]).toBeUndefined();
    expect(calls.resumes.at(-1)).toBeGreaterThanOrEqual(10);
    // Headers are asked for again at every attempt (through CORS: the preflight allowed x-call):
    // each call the server saw carries a later count than the one before.
    expect(calls.headers.map(Number)).toEqual(calls.headers.map(Number).sort((a, b) => a - b));
    expect(new Set(calls.headers).size).toBe(calls.headers.length);
    expect(calls.headers).toHaveLength(calls.resumes.length);
  });

  it.each<[string, { call: Omit<PageCall, 'baseUrl' | 'protocol'>; want: object }]>([
    ['a contract code', { call: { symbol: 'NONE' }, want: { name: 'StreamError', code: 'SYMBOL_NOT_FOUND', message: 'no such symbol', retryable: false } }],
    ['a retryable contract code', { call: { symbol: 'LIMIT' }, want: { name: 'StreamError', code: 'RATE_LIMITED', message: 'slow down', retryable: true } }],
    ['a handler crash', { call: { symbol: 'BUG' }, want: { name: 'StreamError', code: 'INTERNAL', message: 'internal error' } }],
    ['invalid params', { call: { symbol: 'abc' }, want: { name: 'StreamError', code: 'INVALID_REQUEST' } }],
    ['a resume id never issued', { call: { symbol: 'ABC', resumeFrom: `${'A'.repeat(22)}.5` }, want: { name: 'StreamError', code: 'RESUME_EXPIRED' } }],
  ])('raises %s as a typed StreamError, without retrying', async (_, { call, want }) => {
    const { api, calls } = await serve();
    const got = await page.evaluate(iterateInPage, { baseUrl: api, protocol, ...call });
    expect(got.messages).toEqual([]);
    expect(got.error).toMatchObject(want);
    expect(got.states).toEqual(['connecting', 'closed']);
    await sleep(300);
    expect(calls.resumes.length).toBeLessThanOrEqual(1);
  });

  it('aborts the call when the signal aborts, and the handler is aborted within 1 s', async () => {
    const { api, calls } = await serve();
    const got = await page.evaluate(iterateInPage, { baseUrl: api, protocol, symbol: 'SLOW', abortAfter: 3 });
    expect(got.messages).toHaveLength(3);
    expect(got.error).toMatchObject({ name: 'AbortError', message: 'the user left' });
    expect(await waitFor(() => calls.aborted === 1, 1000)).toBe(true);
  });
});

describe('the browser client bundle', () => {
  // Bundle size of the one-stream browser client with everything it needs (connect-web, the
  // protobuf runtime, the generated _pb), minified and gzipped, as a user's esbuild build makes it.
  const BUDGET = 40_960;

  it(`bundles for the browser with no Node module, in at most ${BUDGET} bytes gzipped`, async () => {
    const result = await build({
      stdin: { contents: `export { openQuotes } from ${JSON.stringify(join(out, 'client.browser.ts'))};`, resolveDir: ROOT, loader: 'ts' },
      bundle: true,
      minify: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
    });
    const text = result.outputFiles[0]!.text;
    const bytes = gzipSync(result.outputFiles[0]!.contents, { level: 9 }).length;
    console.log(`grpc browser client bundle: ${text.length} bytes minified, ${bytes} bytes gzipped (budget ${BUDGET})`);
    // platform browser fails on a node: import; connect-node's own code must not ride along either.
    expect(text).not.toMatch(/node:http2|createGrpcTransport|Http2SessionManager/);
    expect(bytes).toBeLessThanOrEqual(BUDGET);
  });
});

describe('a page on an origin the router does not list', () => {
  it.each(['connect', 'grpc-web'] as const)('cannot read a stream over %s, and no handler runs', async (protocol) => {
    const { api, calls } = await serve(false);
    const out = await page.evaluate(iterateInPage, { baseUrl: api, protocol, symbol: 'ACME', count: 2 });
    // The preflight gets no Access-Control-Allow-Origin: Chromium never sends the call.
    expect(out.messages).toEqual([]);
    expect(out.error?.name).toBe('StreamInterruptedError');
    expect(calls.headers).toEqual([]);
  });
});
