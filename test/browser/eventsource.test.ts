// EventSource implementations nobody here wrote, against the generated assistant server (SSE):
// Chromium's own (Debian's chromium, driven by playwright-core) and npm `eventsource` in Node.
// Both must see typed events with `<streamId>.<seq>` ids, resume with Last-Event-ID after the
// server drops the connection mid-frame (every message exactly once), and stop for good after the
// terminal message (one reconnect, answered 204, then nothing).

import { EventSource as NodeEventSource } from 'eventsource';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandlers } from '../../examples/assistant/handlers.ts';
import { createRouter, type AssistantHandlers } from '../../generated/assistant/server.ts';
import { cutFirstResponse, cutInFrame, HOSTILE_TEXTS, launchChromium, pause, startServer, type TestServer } from '../support/browser.ts';

/** The server's `retry:`; short so reconnects (and the wait proving there are none) stay quick. */
const RETRY_MS = 200;
const CONVERSATION = '6f1d2c3b-4a59-4e68-9d7c-8b0a1f2e3d4c';
const TYPES = ['token', 'usage', 'done', '$error', 'message'];

interface SeenEvent {
  readonly type: string;
  readonly data: string;
  readonly lastEventId: string;
}
interface Run {
  readonly events: SeenEvent[];
  /** true: the EventSource reached CLOSED by itself (a 204 or a fatal answer); false: timed out. */
  readonly closed: boolean;
}
type Peer = (url: string) => Promise<Run>;

let browser: Browser;
let page: Page; // one for the file: a navigation per test is much cheaper than a new page
const servers: TestServer[] = [];

beforeAll(async () => {
  browser = await launchChromium();
  page = await browser.newPage();
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await browser?.close();
});

// Runs in the page (serialised by playwright, so self-contained): records every event of `types`
// until the EventSource closes itself, or `timeoutMs` passes.
function collectInPage(args: { url: string; types: string[]; timeoutMs: number }): Promise<Run> {
  return new Promise((resolve) => {
    const es = new EventSource(args.url);
    const events: SeenEvent[] = [];
    for (const type of args.types) es.addEventListener(type, (e) => events.push({ type: e.type, data: (e as MessageEvent).data, lastEventId: (e as MessageEvent).lastEventId }));
    const timer = setTimeout(() => {
      es.close();
      resolve({ events, closed: false });
    }, args.timeoutMs);
    es.onerror = () => {
      if (es.readyState !== EventSource.CLOSED) return; // reconnecting
      clearTimeout(timer);
      resolve({ events, closed: true });
    };
  });
}

const PEERS: [string, Peer][] = [
  [
    'Chromium EventSource',
    async (url) => {
      await page.goto(new URL('/__test/', url).href); // same origin as the stream: no CORS
      return page.evaluate(collectInPage, { url, types: TYPES, timeoutMs: 15_000 });
    },
  ],
  [
    'npm eventsource',
    (url) =>
      new Promise((resolve) => {
        const es = new NodeEventSource(url);
        const events: SeenEvent[] = [];
        for (const type of TYPES) es.addEventListener(type, (e) => events.push({ type: e.type, data: e.data, lastEventId: e.lastEventId }));
        const timer = setTimeout(() => {
          es.close();
          resolve({ events, closed: false });
        }, 15_000);
        es.onerror = () => {
          if (es.readyState !== es.CLOSED) return;
          clearTimeout(timer);
          resolve({ events, closed: true });
        };
      }),
  ],
];

async function serve(cutAt?: number, handlers: AssistantHandlers = createHandlers()): Promise<TestServer> {
  const router = createRouter(handlers, { authenticate: () => ({ id: 'test' }), retryMs: RETRY_MS });
  const server = await startServer(cutAt ? cutFirstResponse(router.node, cutInFrame(cutAt)) : router.node);
  servers.push(server);
  return server;
}

const completionUrl = (server: TestServer, query: string) => `${server.origin}/v1/conversations/${CONVERSATION}/completion?${query}`;

/** What examples/assistant/handlers.ts produces for `prompt` and `maxTokens`, in order. */
function completion(prompt: string, maxTokens: number): { type: string; data: unknown }[] {
  const tokens = Array.from({ length: maxTokens }, (_, i) => ({ type: 'token', data: { text: `w${i} `, index: i } }));
  return [...tokens, { type: 'usage', data: { inputTokens: prompt.length, outputTokens: maxTokens } }, { type: 'done', data: { finishReason: 'stop' } }];
}

/** Checks ids are `<one streamId>.<1, 2, ...>` with lastEventId equal to the id; returns the ids. */
function checkIds(events: readonly SeenEvent[]): string[] {
  const ids = events.map((e) => e.lastEventId);
  const streamId = /^[\w-]{22}(?=\.)/.exec(ids[0] ?? '')?.[0];
  expect(streamId, `first id ${ids[0]}`).toBeDefined();
  expect(ids).toEqual(events.map((_, i) => `${streamId}.${i + 1}`));
  return ids;
}

const lastEventIds = (server: TestServer) => server.requests.map((r) => r.headers['last-event-id']);

describe.each(PEERS)('%s against the generated SSE server', (_, open) => {
  it('gets typed events with <streamId>.<seq> ids, then reconnects once, gets 204 and stops', async () => {
    const server = await serve();
    const run = await open(completionUrl(server, 'prompt=hello&maxTokens=5'));

    expect(run.closed).toBe(true);
    expect(run.events.map((e) => ({ type: e.type, data: JSON.parse(e.data) }))).toEqual(completion('hello', 5));
    const ids = checkIds(run.events);
    // The reconnect after the terminal message names it, and the 204 is what stops the EventSource.
    expect(lastEventIds(server)).toEqual([undefined, ids.at(-1)]);
    expect(server.requests.map((r) => r.status)).toEqual([200, 204]);
    await pause(3 * RETRY_MS);
    expect(server.requests).toHaveLength(2);
  });

  it('resumes with Last-Event-ID after the server drops the connection mid-frame: every message exactly once', async () => {
    const server = await serve(9); // frame 9 is cut after its first bytes: 8 arrive whole
    const run = await open(completionUrl(server, 'prompt=resume&maxTokens=20'));

    expect(run.closed).toBe(true);
    expect(run.events.map((e) => ({ type: e.type, data: JSON.parse(e.data) }))).toEqual(completion('resume', 20));
    const ids = checkIds(run.events);
    expect(lastEventIds(server)).toEqual([undefined, ids[7], ids.at(-1)]);
    expect(server.requests.map((r) => r.status)).toEqual([200, 200, 204]);
    await pause(3 * RETRY_MS);
    expect(server.requests).toHaveLength(3);
  });

  it('gets a fail-fast $error as a typed event, then stops the same way', async () => {
    const server = await serve();
    const run = await open(completionUrl(server, 'prompt=overload'));

    expect(run.closed).toBe(true);
    expect(run.events.map((e) => ({ type: e.type, data: JSON.parse(e.data) }))).toEqual([
      { type: '$error', data: { code: 'OVERLOADED', message: 'the model is busy', retryable: true } },
    ]);
    const [id] = checkIds(run.events);
    expect(lastEventIds(server)).toEqual([undefined, id]);
    expect(server.requests.map((r) => r.status)).toEqual([200, 204]);
  });

  it('gets hostile token text exactly as the handler yielded it', async () => {
    const handlers: AssistantHandlers = {
      ...createHandlers(),
      async *completion() {
        for (const [index, text] of HOSTILE_TEXTS.entries()) yield { type: 'token', data: { text, index } };
        return { type: 'done', data: { finishReason: 'stop' } };
      },
    };
    const server = await serve(undefined, handlers);
    const run = await open(completionUrl(server, 'prompt=hostile'));

    expect(run.events.map((e) => ({ type: e.type, data: JSON.parse(e.data) }))).toEqual([
      ...HOSTILE_TEXTS.map((text, index) => ({ type: 'token', data: { text, index } })),
      { type: 'done', data: { finishReason: 'stop' } },
    ]);
    checkIds(run.events);
  });

  it('gets 400 for a request that breaks the contract, and does not retry', async () => {
    const server = await serve();
    const run = await open(completionUrl(server, 'maxTokens=many'));

    expect(run).toEqual({ events: [], closed: true });
    expect(server.requests.map((r) => r.status)).toEqual([400]);
    await pause(3 * RETRY_MS);
    expect(server.requests).toHaveLength(1);
  });
});
