// The generated clients, bundled with esbuild as a user's app would bundle them, run inside
// Chromium against the generated servers: assistant over SSE, telemetry over NDJSON. Exact
// messages, the end right after the terminal message, one resume after the server drops the
// connection mid-frame, typed errors, and no resume for a stream whose contract says none.

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandlers as assistantHandlers } from '../../examples/assistant/handlers.ts';
import { createHandlers as telemetryHandlers, fleetMessageAt, traceAt } from '../../examples/telemetry/handlers.ts';
import { createRouter as assistantRouter, type AssistantHandlers } from '../../generated/assistant/server.ts';
import { createRouter as telemetryRouter, type TelemetryHandlers } from '../../generated/telemetry/server.ts';
import { bundleForBrowser, cutFirstResponse, cutInFrame, HOSTILE_TEXTS, launchChromium, pause, startServer, type TestServer } from '../support/browser.ts';

const RETRY_MS = 200;
const CONVERSATION = '6f1d2c3b-4a59-4e68-9d7c-8b0a1f2e3d4c';

interface Received {
  readonly type: string;
  readonly id: string;
  readonly data: unknown;
}
interface Outcome {
  readonly messages: Received[];
  readonly error?: { name: string; code?: string; message: string };
  readonly states: string[];
  readonly lastId: string | undefined;
}
interface Call {
  /** An export of the bundle: a generated `open<Stream>` function. */
  readonly fn: string;
  readonly args: { params: Record<string, string>; request?: Record<string, unknown> };
}

let browser: Browser;
let page: Page; // one for the file: a navigation per test is much cheaper than a new page
let bundle: string;
const servers: TestServer[] = [];

beforeAll(async () => {
  [browser, bundle] = await Promise.all([
    launchChromium(),
    bundleForBrowser(
      [
        "export { openCompletion } from './generated/assistant/client.ts';",
        "export { openEvents, openTraces } from './generated/telemetry/client.ts';",
      ].join('\n'),
    ),
  ]);
  page = await browser.newPage();
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await browser?.close();
});

// Runs in the page (serialised by playwright, so self-contained): iterates one stream of the
// bundled client to its end, bounded by a 15 s abort.
async function iterateInPage(call: Call): Promise<Outcome> {
  const mod = (window as unknown as { client: Record<string, Function> }).client;
  const states: string[] = [];
  const messages: Received[] = [];
  const stream = mod[call.fn]!({ baseUrl: location.origin }, { ...call.args, signal: AbortSignal.timeout(15_000), onState: (s: string) => states.push(s) });
  try {
    for await (const m of stream) messages.push({ type: m.type, id: m.id, data: m.data });
  } catch (e) {
    const { name, code, message } = e as { name: string; code?: string; message: string };
    return { messages, error: { name, code, message }, states, lastId: stream.lastId };
  }
  return { messages, states, lastId: stream.lastId };
}

/** Starts a server for `app` and opens the test page on it, with the bundle loaded. */
async function serve(app: Parameters<typeof startServer>[0], cutAt?: number): Promise<{ server: TestServer; page: Page }> {
  const server = await startServer(cutAt ? cutFirstResponse(app, cutInFrame(cutAt)) : app);
  servers.push(server);
  server.file('/__test/client.js', bundle, 'text/javascript');
  await page.goto(server.page);
  // A module script, as an app loads its bundle; it hands the exports to the tests' page code.
  await page.addScriptTag({ type: 'module', content: "import * as client from '/__test/client.js'; window.client = client;" });
  await page.waitForFunction(() => 'client' in window, undefined, { timeout: 10_000 });
  return { server, page };
}

const iterate = (page: Page, call: Call): Promise<Outcome> => page.evaluate(iterateInPage, call);

/** Ids must be `<one streamId>.<1, 2, ...>`; returns them. */
function checkIds(messages: readonly Received[]): string[] {
  const ids = messages.map((m) => m.id);
  const streamId = /^[\w-]{22}(?=\.)/.exec(ids[0] ?? '')?.[0];
  expect(streamId, `first id ${ids[0]}`).toBeDefined();
  expect(ids).toEqual(messages.map((_, i) => `${streamId}.${i + 1}`));
  return ids;
}

const withoutIds = (messages: readonly Received[]) => messages.map(({ type, data }) => ({ type, data }));

describe('generated SSE client (assistant) in Chromium', () => {
  const app = () => assistantRouter(assistantHandlers(), { authenticate: () => ({ id: 'test' }), retryMs: RETRY_MS }).node;
  const completion = (prompt: string, maxTokens?: number): Call => ({
    fn: 'openCompletion',
    args: { params: { conversationId: CONVERSATION }, request: { prompt, maxTokens } },
  });
  const expected = (prompt: string, n: number) => [
    ...Array.from({ length: n }, (_, i) => ({ type: 'token', data: { text: `w${i} `, index: i } })),
    { type: 'usage', data: { inputTokens: prompt.length, outputTokens: n } },
    { type: 'done', data: { finishReason: 'stop' } },
  ];

  it('delivers the exact messages and ends right after the terminal message, without reconnecting', async () => {
    const { server, page } = await serve(app());
    const out = await iterate(page, completion('hello', 5));

    expect(out.error).toBeUndefined();
    expect(withoutIds(out.messages)).toEqual(expected('hello', 5));
    expect(out.lastId).toBe(checkIds(out.messages).at(-1));
    expect(out.states).toEqual(['connecting', 'open', 'closed']);
    await pause(3 * RETRY_MS);
    expect(server.requests.map((r) => [r.url, r.status])).toEqual([[`/v1/conversations/${CONVERSATION}/completion?prompt=hello&maxTokens=5`, 200]]);
  });

  it('resumes once with Last-Event-ID after the server drops the connection mid-frame', async () => {
    const { server, page } = await serve(app(), 9);
    const out = await iterate(page, completion('resume', 20));

    expect(out.error).toBeUndefined();
    expect(withoutIds(out.messages)).toEqual(expected('resume', 20));
    const ids = checkIds(out.messages);
    expect(server.requests.map((r) => r.headers['last-event-id'])).toEqual([undefined, ids[7]]);
    expect(out.lastId).toBe(ids.at(-1));
    expect(out.states).toEqual(['connecting', 'open', 'reconnecting', 'open', 'closed']);
    await pause(3 * RETRY_MS);
    expect(server.requests).toHaveLength(2);
  });

  it('delivers hostile token text exactly as the handler yielded it', async () => {
    const handlers: AssistantHandlers = {
      ...assistantHandlers(),
      async *completion() {
        for (const [index, text] of HOSTILE_TEXTS.entries()) yield { type: 'token', data: { text, index } };
        return { type: 'done', data: { finishReason: 'stop' } };
      },
    };
    const { page } = await serve(assistantRouter(handlers, { authenticate: () => ({ id: 'test' }) }).node);
    const out = await iterate(page, completion('hostile'));

    expect(out.error).toBeUndefined();
    expect(withoutIds(out.messages)).toEqual([
      ...HOSTILE_TEXTS.map((text, index) => ({ type: 'token', data: { text, index } })),
      { type: 'done', data: { finishReason: 'stop' } },
    ]);
  });

  it('raises the fail-fast error as StreamError with its code, and does not retry', async () => {
    const { server, page } = await serve(app());
    const out = await iterate(page, completion('overload'));

    expect(out.messages).toEqual([]);
    expect(out.error).toEqual({ name: 'StreamError', code: 'OVERLOADED', message: 'the model is busy' });
    await pause(3 * RETRY_MS);
    expect(server.requests).toHaveLength(1);
  });
});

describe('generated NDJSON client (telemetry) in Chromium', () => {
  const app = () => telemetryRouter(telemetryHandlers({ count: 12 }), { retryMs: RETRY_MS }).node;
  const fleet = 'fleet-7';
  const events: Call = { fn: 'openEvents', args: { params: { fleetId: fleet } } };
  // Faults are in-band: they arrive as messages and the stream goes on to its `end`.
  const expected = [...Array.from({ length: 12 }, (_, i) => fleetMessageAt(fleet, i)), { type: 'end', data: null }];

  it('delivers the exact messages, in-band faults included, and ends right after the terminal message', async () => {
    const { server, page } = await serve(app());
    const out = await iterate(page, events);

    expect(out.error).toBeUndefined();
    expect(withoutIds(out.messages)).toEqual(expected);
    checkIds(out.messages);
    await pause(3 * RETRY_MS);
    expect(server.requests.map((r) => [r.headers.accept, r.status])).toEqual([['application/x-ndjson', 200]]);
  });

  it('resumes once with Streamspec-Resume after the server drops the connection mid-line', async () => {
    const { server, page } = await serve(app(), 5);
    const out = await iterate(page, events);

    expect(out.error).toBeUndefined();
    expect(withoutIds(out.messages)).toEqual(expected);
    const ids = checkIds(out.messages);
    expect(server.requests.map((r) => r.headers['streamspec-resume'])).toEqual([undefined, ids[3]]);
    expect(out.states).toEqual(['connecting', 'open', 'reconnecting', 'open', 'closed']);
  });

  it('delivers hostile event text exactly as the handler yielded it', async () => {
    const event = (text: string, i: number) => ({ source: 'src', severity: 'info' as const, text, timeUnixNano: i });
    const handlers: TelemetryHandlers = {
      ...telemetryHandlers(),
      async *events() {
        for (const [i, text] of HOSTILE_TEXTS.entries()) yield { type: 'event', data: event(text, i) };
        return { type: 'end', data: null };
      },
    };
    const { page } = await serve(telemetryRouter(handlers).node);
    const out = await iterate(page, events);

    expect(out.error).toBeUndefined();
    expect(withoutIds(out.messages)).toEqual([...HOSTILE_TEXTS.map((text, i) => ({ type: 'event', data: event(text, i) })), { type: 'end', data: null }]);
  });

  it('stops with StreamInterruptedError when a stream without resume is cut, keeping what arrived', async () => {
    const { server, page } = await serve(app(), 4);
    const out = await iterate(page, { fn: 'openTraces', args: { params: { service: 'checkout' } } });

    expect(withoutIds(out.messages)).toEqual([0, 1, 2].map((i) => ({ type: 'trace', data: traceAt('checkout', i) })));
    expect(out.error).toMatchObject({ name: 'StreamInterruptedError', message: expect.stringContaining('cannot resume') });
    await pause(3 * RETRY_MS);
    expect(server.requests).toHaveLength(1);
  });
});
