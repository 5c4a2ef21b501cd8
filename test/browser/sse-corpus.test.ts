// The SSE parsing edge cases of test/fixtures/sse (CR, LF, CRLF, BOM, comments, multi-line data,
// id rules, content types), with Chromium's recorded answers as the reference:
// 1. the live Chromium's EventSource, fed each case's raw bytes, gives the recorded answer (this
//    checks the harness, and notices a Chromium that changed);
// 2. the client's SSE source (templates/runtime/sse-source.ts: TextDecoder, eventsource-parser,
//    end-of-body check) gives the same events, fed in one chunk and one byte at a time.
//
// For 2 the source is run with one seam replaced, because the corpus is not our protocol (its data
// is not JSON): eventsource-parser hands the source each event's data JSON-encoded, so the
// source's JSON.parse gives back the raw string. The source's frames are taken as it hands them to
// the client, before the client's id and type checks (its ids are not `<streamId>.<seq>`).
// Everything that turns bytes into events runs as shipped.

import { readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sse } from '../../templates/runtime/sse-source.ts';
import { CASES } from '../fixtures/sse/sse-cases.mjs';
import { launchChromium, startServer, type TestServer } from '../support/browser.ts';

vi.mock('eventsource-parser', async (importOriginal) => {
  const real = await importOriginal<typeof import('eventsource-parser')>();
  const createParser: typeof real.createParser = (callbacks) =>
    real.createParser({ ...callbacks, onEvent: (e) => callbacks.onEvent?.({ ...e, data: JSON.stringify(e.data) }) });
  return { ...real, createParser };
});

interface SeenEvent {
  readonly type: string;
  readonly data: string;
  readonly lastEventId: string;
}

const RECORDED = (JSON.parse(readFileSync(new URL('../fixtures/sse/chromium-cases.json', import.meta.url), 'utf8')) as { cases: Record<string, SeenEvent[]> }).cases;
const NAMES = Object.keys(CASES);

/**
 * Where the client's source differs from Chromium, on purpose, and what it gives instead. Every
 * other case must match Chromium exactly.
 */
const DIFFERENCES: Readonly<Record<string, { why: string; events?: SeenEvent[]; error?: string }>> = {
  'wpt-utf8-charset': {
    why: 'Chromium refuses an event stream with a non-UTF-8 charset; the source never sees headers (the generated server always sends text/event-stream) and decodes UTF-8, as the WPT test itself expects',
    events: [{ type: 'message', data: 'ok\u2026', lastEventId: '' }],
  },
  'wpt-mime-bogus': {
    why: 'Chromium refuses a content type other than text/event-stream; the source never sees headers',
    events: [{ type: 'message', data: 'data', lastEventId: '' }],
  },
  'no-data-no-dispatch': {
    why: 'eventsource-parser forgets an id: from a block without data, where WHATWG keeps it as the last event id; harmless for our protocol, where every message carries its own id',
    events: [{ type: 'done', data: 'x', lastEventId: '' }],
  },
};

let browser: Browser;
let page: Page;
let server: TestServer;

beforeAll(async () => {
  // Each case at /case/<name>: its bytes once, then 204, so a reconnect can never read it twice.
  const served = new Set<string>();
  server = await startServer((req, res) => {
    const name = decodeURIComponent(req.url?.replace(/^\/case\//, '') ?? '');
    const c = CASES[name];
    if (!c) return void res.writeHead(404).end();
    if (served.has(name)) return void res.writeHead(204).end();
    served.add(name);
    res.writeHead(200, { 'content-type': c.mime ?? 'text/event-stream', 'cache-control': 'no-store' }).end(Buffer.from(c.bytes, 'latin1'));
  });
  browser = await launchChromium();
  page = await browser.newPage();
  await page.goto(server.page);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

it('has a recorded Chromium answer for every case', () => {
  expect(Object.keys(RECORDED).sort()).toEqual([...NAMES].sort());
});

// Runs in the page (serialised by playwright, so self-contained): the events of the first
// connection, until it ends or fails (the first `error`), bounded by `timeoutMs`.
function firstConnectionInPage(args: { url: string; types: string[]; timeoutMs: number }): Promise<SeenEvent[]> {
  return new Promise((resolve) => {
    const es = new EventSource(args.url);
    const events: SeenEvent[] = [];
    const finish = () => {
      es.close();
      clearTimeout(timer);
      resolve(events);
    };
    for (const type of args.types) es.addEventListener(type, (e) => events.push({ type: e.type, data: (e as MessageEvent).data, lastEventId: (e as MessageEvent).lastEventId }));
    es.onerror = finish;
    const timer = setTimeout(finish, args.timeoutMs);
  });
}

/** Every event type a case can dispatch: `message`, and each `event:` field's value. */
function eventTypes(bytes: string): string[] {
  return [...new Set(['message', ...[...bytes.matchAll(/event:? ?([^\r\n]*)/g)].map((m) => m[1]!).filter(Boolean)])];
}

describe("Chromium's EventSource gives its recorded answers", () => {
  it.each(NAMES)('%s', async (name) => {
    const url = `${server.origin}/case/${encodeURIComponent(name)}`;
    const events = await page.evaluate(firstConnectionInPage, { url, types: eventTypes(CASES[name]!.bytes), timeoutMs: 5_000 });
    expect(events).toEqual(RECORDED[name]);
  });
});

/** Runs the client's SSE source over `bytes` delivered `size` bytes at a time. */
async function readWithSource(bytes: Uint8Array, size: number): Promise<{ events: SeenEvent[]; error?: string }> {
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < bytes.length; i += size) c.enqueue(bytes.slice(i, i + size));
      c.close();
    },
  });
  const events: SeenEvent[] = [];
  let lastEventId = ''; // the parser gives each event's own id; EventSource's lastEventId persists
  const frame = (type: unknown, id: unknown, data: unknown) => {
    if (id !== undefined) lastEventId = id as string;
    events.push({ type: (type as string | undefined) ?? 'message', data: data as string, lastEventId });
  };
  try {
    await sse.read(body, frame, async () => {}, () => {});
  } catch (e) {
    return { events, error: (e as Error).message };
  }
  return { events };
}

describe("the client's SSE source gives Chromium's answers", () => {
  it.each(NAMES)('%s', async (name) => {
    const bytes = Buffer.from(CASES[name]!.bytes, 'latin1');
    const differs = DIFFERENCES[name];
    const want = { events: differs?.events ?? RECORDED[name], ...(differs?.error ? { error: differs.error } : {}) };
    // One chunk, and one byte at a time: line ends, BOM and characters split across reads.
    expect(await readWithSource(bytes, bytes.length), 'one chunk').toEqual(want);
    expect(await readWithSource(bytes, 1), 'byte by byte').toEqual(want);
  });
});
