// Malformed and truncated frames: a raw node:http server answers the stream's path with broken
// SSE or NDJSON, and the generated client (spec/assistant.yaml `completion`) must end with a
// typed error (StreamProtocolError, or StreamInterruptedError once reconnecting cannot help)
// within a bounded time, after delivering exactly the valid frames before the bad one.
// Never a hang, never a crash.

import type { ServerResponse } from 'node:http';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type * as Client from '../generated/assistant/client.ts';
import { collect, CONVERSATION, fileUrl, generateInto, listen, ROOT, type Listening } from './http-harness.ts';

const clients: Record<'sse' | 'ndjson', typeof Client> = {} as never;
beforeAll(async () => {
  clients.sse = (await import(fileUrl(`${ROOT}generated/assistant`, 'client.ts'))) as typeof Client;
  clients.ndjson = (await import(fileUrl(generateInto('spec/assistant.yaml', 'ndjson', 'malformed-ndjson'), 'client.ts'))) as typeof Client;
});

let server: Listening | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const LIMIT_MS = 5000;
const SID = 'AbCdEfGhIjKlMnOpQrSt_-';
const OTHER = 'ZyXwVuTsRqPoNmLkJiHg-_';
const tok = (i: number) => ({ text: `w${i} `, index: i });
const sse = (n: number, type = 'token', data: unknown = tok(n - 1), sid = SID) =>
  `id: ${sid}.${n}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
const nd = (n: number, type = 'token', data: unknown = tok(n - 1), sid = SID) =>
  `${JSON.stringify({ seq: n, id: `${sid}.${n}`, type, data })}\n`;

/** Deterministic bytes (xorshift32), so a failure can be replayed. */
function noise(seed: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** 16 MiB: far beyond any frame this contract sends, small enough to keep the test quick. */
const HUGE = 16 * 2 ** 20;

type Want = 'protocol' | 'interrupted' | 'typed';
type Case = [string, { body: string | Buffer; valid: number; want: Want }];

// A body that ends inside a frame is a connection that died, not a broken peer: the client drops
// the cut frame and resumes; a server that cuts every time ends as StreamInterruptedError.
const sseCases: Case[] = [
  [
    'data that is not JSON',
    {
      body: sse(1) + `id: ${SID}.2\nevent: token\ndata: {"text":\n\n`,
      valid: 1,
      want: 'protocol',
    },
  ],
  [
    'a message without an id',
    {
      body: sse(1) + 'event: token\ndata: {"text":"a","index":1}\n\n',
      valid: 1,
      want: 'protocol',
    },
  ],
  [
    'an id that is not <streamId>.<seq>',
    {
      body: `id: 1\nevent: token\ndata: ${JSON.stringify(tok(0))}\n\n`,
      valid: 0,
      want: 'protocol',
    },
  ],
  ['a sequence number that skips one', { body: sse(1) + sse(3), valid: 1, want: 'protocol' }],
  ['a message without an event name', { body: `id: ${SID}.1\ndata: 1\n\n`, valid: 0, want: 'protocol' }],
  ['an unknown reserved event', { body: sse(1, '$surprise', {}), valid: 0, want: 'protocol' }],
  ['an $error without a code', { body: sse(1, '$error', { message: 'x' }), valid: 0, want: 'protocol' }],
  [
    'a $dropped with a negative count',
    {
      body: sse(1) + 'event: $dropped\ndata: {"count":-1}\n\n',
      valid: 1,
      want: 'protocol',
    },
  ],
  [
    'a last frame without its blank line',
    {
      body: sse(1) + `id: ${SID}.2\nevent: done\ndata: {"finishReason":"stop"}\n`,
      valid: 1,
      want: 'interrupted',
    },
  ],
  [
    'a last frame cut mid-line',
    {
      body: sse(1) + `id: ${SID}.2\nevent: done\ndata: {"fin`,
      valid: 1,
      want: 'interrupted',
    },
  ],
  [
    'a huge data line cut off',
    {
      body: sse(1) + `id: ${SID}.2\nevent: token\ndata: "${'a'.repeat(HUGE)}`,
      valid: 1,
      want: 'interrupted',
    },
  ],
  [
    'a huge line of bad JSON',
    {
      body: sse(1) + `id: ${SID}.2\nevent: token\ndata: {${'a'.repeat(HUGE)}\n\n`,
      valid: 1,
      want: 'protocol',
    },
  ],
  [
    'an HTML page with status 200',
    {
      body: '<!doctype html><html><body>Bad gateway</body></html>',
      valid: 0,
      want: 'interrupted',
    },
  ],
  ['NUL bytes', { body: Buffer.alloc(4096), valid: 0, want: 'interrupted' }],
  ...[1, 2, 3, 4, 5].map((seed): Case => [`random bytes (seed ${seed})`, { body: noise(seed, 64 * 1024), valid: 0, want: 'typed' }]),
  ...[6, 7].map((seed): Case => [
    `a frame, then random bytes (seed ${seed})`,
    {
      body: Buffer.concat([Buffer.from(sse(1)), noise(seed, 64 * 1024)]),
      valid: 1,
      want: 'typed',
    },
  ]),
];

const ndjsonCases: Case[] = [
  ['a line that is not JSON', { body: nd(1) + '{"seq":2,\n', valid: 1, want: 'protocol' }],
  ['a line that is not an object', { body: '[1,2]\n', valid: 0, want: 'protocol' }],
  ['a null line', { body: 'null\n', valid: 0, want: 'protocol' }],
  [
    'a missing seq',
    {
      body: `{"id":"${SID}.1","type":"token","data":${JSON.stringify(tok(0))}}\n`,
      valid: 0,
      want: 'protocol',
    },
  ],
  [
    'a seq that disagrees with the id',
    {
      body: nd(1) + `{"seq":2,"id":"${SID}.3","type":"token","data":${JSON.stringify(tok(1))}}\n`,
      valid: 1,
      want: 'protocol',
    },
  ],
  [
    'an id that is not <streamId>.<seq>',
    {
      body: `{"seq":1,"id":"x.1","type":"token","data":${JSON.stringify(tok(0))}}\n`,
      valid: 0,
      want: 'protocol',
    },
  ],
  ['a sequence number that skips one', { body: nd(1) + nd(3), valid: 1, want: 'protocol' }],
  ['an unknown reserved type', { body: nd(1, '$surprise', {}), valid: 0, want: 'protocol' }],
  [
    'a bad dropped count',
    {
      body: `{"seq":1,"id":"${SID}.1","type":"token","data":${JSON.stringify(tok(0))},"dropped":"3"}\n`,
      valid: 0,
      want: 'protocol',
    },
  ],
  [
    'a last line without its newline',
    {
      body: nd(1) + nd(2, 'done', { finishReason: 'stop' }).trimEnd(),
      valid: 1,
      want: 'interrupted',
    },
  ],
  [
    'a huge line cut off',
    {
      body: nd(1) + `{"seq":2,"id":"${SID}.2","type":"token","data":"${'a'.repeat(HUGE)}`,
      valid: 1,
      want: 'interrupted',
    },
  ],
  ['a huge line of bad JSON', { body: nd(1) + `{${'a'.repeat(HUGE)}\n`, valid: 1, want: 'protocol' }],
  [
    'an HTML page with status 200',
    {
      body: '<!doctype html><html><body>Bad gateway</body></html>\n',
      valid: 0,
      want: 'protocol',
    },
  ],
  ['NUL bytes', { body: Buffer.alloc(4096), valid: 0, want: 'interrupted' }],
  ...[1, 2, 3, 4, 5].map((seed): Case => [`random bytes (seed ${seed})`, { body: noise(seed, 64 * 1024), valid: 0, want: 'typed' }]),
  ...[6, 7].map((seed): Case => [
    `a frame, then random bytes (seed ${seed})`,
    {
      body: Buffer.concat([Buffer.from(nd(1)), noise(seed, 64 * 1024)]),
      valid: 1,
      want: 'protocol',
    },
  ]),
];

/** Writes `body` in uneven pieces, so frames are split across reads at arbitrary points. */
function send(res: ServerResponse, contentType: string, body: string | Buffer): void {
  res.writeHead(200, {
    'content-type': contentType,
    'cache-control': 'no-store',
  });
  const bytes = Buffer.from(body);
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = [1, 7, 300, 4096, 65536][i % 5]!;
    res.write(bytes.subarray(at, at + size));
    at += size;
  }
  res.end();
}

describe.each([
  ['sse', 'text/event-stream', sseCases],
  ['ndjson', 'application/x-ndjson', ndjsonCases],
] as const)('%s', (transport, contentType, cases) => {
  it.each(cases)(`%s: a typed error within ${LIMIT_MS} ms`, (name, c) => expectTypedError(transport, contentType, name, c));

  // The stream id must stay the same: a frame of another instance would be delivered (and later
  // resumed from) as if it belonged to this one.
  it('a frame of another stream instance is a StreamProtocolError', () => {
    const other = transport === 'sse' ? sse(1) + sse(2, 'token', tok(1), OTHER) : nd(1) + nd(2, 'token', tok(1), OTHER);
    return expectTypedError(transport, contentType, 'another instance', {
      body: other,
      valid: 1,
      want: 'protocol',
    });
  });
});

async function expectTypedError(
  transport: 'sse' | 'ndjson',
  contentType: string,
  name: string,
  { body, valid, want }: Case[1],
): Promise<void> {
  const C = clients[transport];
  server = await listen((_req, res) => send(res, contentType, body));
  const t0 = performance.now();
  const call = C.openCompletion(
    { baseUrl: server.base, maxAttempts: 3, maxRetryMs: 10 },
    { params: { conversationId: CONVERSATION }, request: { prompt: 'x' } },
  );
  const { got, err } = await collect(call, LIMIT_MS);
  const ms = performance.now() - t0;
  console.log(
    `${transport} ${name}: ${(err as Error)?.name}: ${String((err as Error)?.message).slice(0, 80)} after ${got.length} messages, ${Math.round(ms)} ms, ${server.exchanges.length} connection(s)`,
  );
  const types = {
    protocol: [C.StreamProtocolError],
    interrupted: [C.StreamInterruptedError],
    typed: [C.StreamProtocolError, C.StreamInterruptedError, C.StreamError],
  }[want];
  expect(
    types.some((t) => err instanceof t),
    `${String(err)} is not one of ${types.map((t) => t.name)}`,
  ).toBe(true);
  // The valid frames before the bad one were delivered, and nothing else.
  expect(got.map((m) => m.data)).toEqual(Array.from({ length: valid }, (_, i) => tok(i)));
  // A protocol error is final: reconnecting to a server that breaks the protocol cannot help.
  if (want === 'protocol') expect(server.exchanges).toHaveLength(1);
  expect(call.state).toBe('closed');
}
