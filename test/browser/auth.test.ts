// Authentication and CORS from a real browser: the generated clients, bundled, run in a page on
// one 127.0.0.1 port against the generated servers on another (a foreign origin). The server
// refuses a foreign origin unless `cors.origin` lists it: the preflight for the Authorization
// header gets no Access-Control-Allow-Origin, so Chromium never sends the stream's request and
// no handler runs. A listed origin reads its stream, and reads a 401 as StreamError
// UNAUTHENTICATED (the error answer carries the CORS headers too). SSE (assistant) and NDJSON
// (telemetry).

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandlers as assistantHandlers } from '../../examples/assistant/handlers.ts';
import { createHandlers as telemetryHandlers } from '../../examples/telemetry/handlers.ts';
import { createRouter as assistantRouter, type AssistantHandlers, type AuthRequest } from '../../generated/assistant/server.ts';
import { createRouter as telemetryRouter, type TelemetryHandlers } from '../../generated/telemetry/server.ts';
import { bundleForBrowser, launchChromium, pause, startServer, type TestServer } from '../support/browser.ts';

const CONVERSATION = '6f1d2c3b-4a59-4e68-9d7c-8b0a1f2e3d4c';

interface Outcome {
  readonly types: string[];
  readonly error?: { name: string; code?: string };
}
interface Call {
  readonly fn: string;
  readonly args: { params: Record<string, string>; request?: Record<string, unknown> };
  readonly baseUrl: string;
  readonly token: string | undefined;
}

let browser: Browser;
let page: Page;
let bundle: string;
const servers: TestServer[] = [];

beforeAll(async () => {
  [browser, bundle] = await Promise.all([
    launchChromium(),
    bundleForBrowser(
      ["export { openCompletion } from './generated/assistant/client.ts';", "export { openEvents } from './generated/telemetry/client.ts';"].join('\n'),
    ),
  ]);
  page = await browser.newPage();
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await browser?.close();
});

// Runs in the page (serialised by playwright): iterates one stream to its end, bounded by 15 s.
async function iterateInPage(call: Call): Promise<Outcome> {
  const mod = (window as unknown as { client: Record<string, Function> }).client;
  const headers = () => (call.token ? { authorization: `Bearer ${call.token}` } : {});
  const stream = mod[call.fn]!({ baseUrl: call.baseUrl, headers, maxAttempts: 2, maxRetryMs: 50 }, { ...call.args, signal: AbortSignal.timeout(15_000) });
  const types: string[] = [];
  try {
    for await (const m of stream) types.push(m.type);
  } catch (e) {
    const { name, code } = e as { name: string; code?: string };
    return { types, error: code === undefined ? { name } : { name, code } };
  }
  return { types };
}

/** The app on one port; the test page and bundle on another, so the page's origin is foreign. */
async function serve(app: Parameters<typeof startServer>[0]): Promise<{ app: TestServer; pageOrigin: string }> {
  const [appServer, pageServer] = await Promise.all([startServer(app), startServer((_req, res) => void res.writeHead(404).end())]);
  servers.push(appServer, pageServer);
  pageServer.file('/__test/client.js', bundle, 'text/javascript');
  await page.goto(pageServer.page);
  await page.addScriptTag({ type: 'module', content: "import * as client from '/__test/client.js'; window.client = client;" });
  await page.waitForFunction(() => 'client' in window, undefined, { timeout: 10_000 });
  return { app: appServer, pageOrigin: pageServer.origin };
}

const authenticate = (req: AuthRequest) => (req.headers.get('authorization') === 'Bearer good' ? { id: 'ada' } : undefined);

interface Case {
  readonly transport: string;
  readonly fn: string;
  readonly args: Call['args'];
  readonly want: string[];
  /** The server, recording each handler call's principal in `calls`. */
  readonly router: (calls: unknown[], cors?: { origin: string[] }) => Parameters<typeof startServer>[0];
}

describe.each<Case>([
  {
    transport: 'sse',
    fn: 'openCompletion',
    args: { params: { conversationId: CONVERSATION }, request: { prompt: 'hi', maxTokens: 2 } },
    want: ['token', 'token', 'usage', 'done'],
    router: (calls: unknown[], cors?: { origin: string[] }) => {
      const inner = assistantHandlers();
      const handlers: AssistantHandlers = { ...inner, completion: (ctx) => (calls.push(ctx.principal), inner.completion(ctx)) };
      return assistantRouter(handlers, { authenticate, ...(cors ? { cors } : {}) }).node;
    },
  },
  {
    transport: 'ndjson',
    fn: 'openEvents',
    args: { params: { fleetId: 'fleet-7' } },
    want: ['event', 'event', 'event', 'end'],
    router: (calls: unknown[], cors?: { origin: string[] }) => {
      const inner = telemetryHandlers({ count: 3 });
      const handlers: TelemetryHandlers = { ...inner, events: (ctx) => (calls.push(ctx.principal), inner.events(ctx)) };
      return telemetryRouter(handlers, { authenticate, ...(cors ? { cors } : {}) }).node;
    },
  },
])('$transport from a page on another origin', ({ fn, args, want, router }) => {
  // The router is made once the page's origin is known (for `cors`): a late-bound listener.
  async function setup(listed: boolean) {
    const calls: unknown[] = [];
    let app: ReturnType<typeof router> | undefined;
    const served = await serve((req, res) => app!(req, res));
    app = router(calls, listed ? { origin: [served.pageOrigin] } : undefined);
    return { ...served, calls };
  }

  it('not listed in cors: the preflight is refused, the stream request is never sent, no handler runs', async () => {
    const { app, calls } = await setup(false);
    const out = await page.evaluate(iterateInPage, { fn, args, baseUrl: app.origin, token: 'good' });
    expect(out.types).toEqual([]);
    // To the page a CORS refusal is a network error: retried, then given up (maxAttempts 2).
    expect(out.error).toEqual({ name: 'StreamInterruptedError' });
    expect(app.requests.map((r) => [r.method, r.headers['access-control-request-headers']])).toEqual([
      ['OPTIONS', 'authorization'],
      ['OPTIONS', 'authorization'],
    ]);
    expect(calls).toEqual([]);
  });

  it('listed in cors: the stream is read, with the principal from the Authorization header', async () => {
    const { app, calls } = await setup(true);
    const out = await page.evaluate(iterateInPage, { fn, args, baseUrl: app.origin, token: 'good' });
    expect(out.error).toBeUndefined();
    expect(out.types).toEqual(want);
    expect(app.requests.map((r) => r.method)).toEqual(['OPTIONS', 'GET']);
    expect(calls).toEqual([{ id: 'ada' }]);
  });

  it('listed in cors, no credentials: StreamError UNAUTHENTICATED, after asking for headers once more', async () => {
    const { app, calls } = await setup(true);
    const out = await page.evaluate(iterateInPage, { fn, args, baseUrl: app.origin, token: undefined });
    expect(out).toEqual({ types: [], error: { name: 'StreamError', code: 'UNAUTHENTICATED' } });
    await pause(200);
    expect(app.requests.map((r) => [r.method, r.status])).toEqual([
      ['GET', 401],
      ['GET', 401],
    ]);
    expect(calls).toEqual([]);
  });
});
