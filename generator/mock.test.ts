// The mock in-process on port 0, read with plain fetch and a few lines of frame parsing (the
// generated client is tested elsewhere). Messages are checked with the committed validators in
// generated/, not the mock's own copy, so a mock that validates against itself cannot pass.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Issue } from '../templates/runtime/validation.ts';
import { generate } from './generate.ts';
import { MockContractError, startMock, type MockServer } from './mock.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const COUNT = 6;

interface Frame {
  readonly seq: number;
  readonly id: string;
  readonly type: string;
  readonly data: unknown;
}

/** Complete frames in `text` (SSE events or NDJSON lines); comments, retry and heartbeats skipped. */
function parseFrames(transport: 'sse' | 'ndjson', text: string): Frame[] {
  if (transport === 'ndjson') {
    return text
      .split('\n')
      .slice(0, -1)
      .map((l) => JSON.parse(l) as Frame)
      .filter((f) => f.type !== '$heartbeat');
  }
  const frames: Frame[] = [];
  for (const block of text.split('\n\n').slice(0, -1)) {
    const f: Record<string, string> = {};
    for (const line of block.split('\n')) {
      const at = line.indexOf(':');
      if (at <= 0) continue;
      f[line.slice(0, at)] = line.slice(at + 1).replace(/^ /, '');
    }
    if (f.id === undefined) continue;
    frames.push({ seq: Number(f.id.split('.').pop()), id: f.id, type: f.event ?? 'message', data: JSON.parse(f.data ?? 'null') });
  }
  return frames;
}

interface Read {
  readonly status: number;
  readonly frames: Frame[];
}

/** Reads a stream to its end, or until `stopAfter` frames have arrived (then hangs up). */
async function read(transport: 'sse' | 'ndjson', url: string, headers: Record<string, string> = {}, stopAfter = Infinity): Promise<Read> {
  const abort = new AbortController();
  const res = await fetch(url, { headers, signal: abort.signal });
  if (!res.body) return { status: res.status, frames: [] };
  const decoder = new TextDecoder();
  let text = '';
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if (parseFrames(transport, text).length >= stopAfter) {
      abort.abort();
      break;
    }
  }
  return { status: res.status, frames: parseFrames(transport, text).slice(0, stopAfter) };
}

const strip = (frames: readonly Frame[]) => frames.map(({ seq, type, data }) => ({ seq, type, data }));

async function validators(id: string): Promise<Record<string, (m: unknown) => Issue[]>> {
  return (await import(join(ROOT, `generated/${id}/validate.ts`))) as Record<string, (m: unknown) => Issue[]>;
}

// One table per transport: which stream, its URL, the resume header and the message types in order.
const CASES = [
  {
    spec: 'assistant',
    transport: 'sse' as const,
    stream: 'Completion',
    path: '/v1/conversations/7d444840-9dc0-11d1-b245-5ffdce74fad2/completion?prompt=hello',
    resumeHeader: 'last-event-id',
    types: ['token', 'usage', 'token', 'usage', 'token', 'usage', 'done'],
  },
  {
    spec: 'telemetry',
    transport: 'ndjson' as const,
    stream: 'Events',
    path: '/v1/fleets/f-1/events?minSeverity=info',
    resumeHeader: 'streamspec-resume',
    types: ['event', 'event', 'event', 'event', 'event', 'event', 'end'],
  },
];

describe.each(CASES)('mock of spec/$spec.yaml over $transport', ({ spec, transport, stream, path, resumeHeader, types }) => {
  let mock: MockServer;
  let validate: (m: unknown) => Issue[];
  let url: string;
  beforeAll(async () => {
    mock = await startMock({ spec: `spec/${spec}.yaml`, port: 0, count: COUNT, interval: 10, cwd: ROOT, onError: () => {} });
    validate = (await validators(spec))[`validate${stream}Message`]!;
    url = mock.url + path;
  });
  afterAll(() => mock?.close());

  it('listens on 127.0.0.1 and lists every stream', () => {
    expect(mock.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(mock.transport).toBe(transport);
    expect(mock.problems).toEqual([]);
    expect(mock.routes.map((r) => r.method)).toEqual(mock.routes.map(() => 'GET'));
  });

  it('sends schema-valid messages, types interleaved, seq 1..N, terminal last', async () => {
    const { status, frames } = await read(transport, url);
    expect(status).toBe(200);
    expect(frames.map((f) => f.type)).toEqual(types);
    expect(frames.map((f) => f.seq)).toEqual(types.map((_, i) => i + 1));
    for (const f of frames) expect(validate({ type: f.type, data: f.data }), JSON.stringify(f)).toEqual([]);
  });

  it('gives the same messages for the same URL', async () => {
    const [a, b] = await Promise.all([read(transport, url), read(transport, url)]);
    expect(strip(b.frames)).toEqual(strip(a.frames));
    expect(new Set(a.frames.map((f) => f.data)).size).toBeGreaterThan(1);
    // Different instances: ids differ even though the data does not.
    expect(a.frames[0]!.id).not.toBe(b.frames[0]!.id);
  });

  it('resumes a finished stream after message 3 with exactly 4..N and the terminal', async () => {
    const full = await read(transport, url);
    const resumed = await read(transport, url, { [resumeHeader]: full.frames[2]!.id });
    expect(resumed.status).toBe(200);
    expect(strip(resumed.frames)).toEqual(strip(full.frames.slice(3)));
  });

  it('resumes an interrupted stream where it left off: the handler continues after resumeFrom', async () => {
    const full = await read(transport, url);
    const first = await read(transport, url, {}, 3);
    expect(strip(first.frames)).toEqual(strip(full.frames.slice(0, 3)));
    const resumed = await read(transport, url, { [resumeHeader]: first.frames[2]!.id });
    expect(strip(resumed.frames)).toEqual(strip(full.frames.slice(3)));
    expect(resumed.frames.map((f) => f.id.split('.')[0])).toEqual(resumed.frames.map(() => first.frames[0]!.id.split('.')[0]));
  });

  it('answers a resume from the terminal message with 204', async () => {
    const full = await read(transport, url);
    const res = await fetch(url, { headers: { [resumeHeader]: full.frames.at(-1)!.id } });
    expect(res.status).toBe(204);
  });
});

describe('mock of spec/telemetry.yaml, the other streams', () => {
  it('serves a stream without resume and a sampled one, every message valid', async () => {
    const mock = await startMock({ spec: 'spec/telemetry.yaml', count: 2, interval: 1, cwd: ROOT, onError: () => {} });
    try {
      const v = await validators('telemetry');
      const traces = await read('ndjson', `${mock.url}/v1/services/api/traces`);
      expect(traces.frames.map((f) => [f.seq, f.type])).toEqual([[1, 'trace'], [2, 'trace'], [3, 'end']]);
      for (const f of traces.frames) expect(v.validateTracesMessage!({ type: f.type, data: f.data })).toEqual([]);
      // Sampled at 250 ms: paced at least that slowly, so nothing is dropped.
      const started = performance.now();
      const readings = await read('ndjson', `${mock.url}/v1/devices/d-1/readings?sensors=t1&sensors=t2`);
      expect(performance.now() - started).toBeGreaterThanOrEqual(240);
      expect(readings.frames.map((f) => [f.seq, f.type])).toEqual([[1, 'reading'], [2, 'reading'], [3, 'end']]);
      expect(readings.frames.some((f) => 'dropped' in f)).toBe(false);
      for (const f of readings.frames) expect(v.validateReadingsMessage!({ type: f.type, data: f.data })).toEqual([]);
    } finally {
      await mock.close();
    }
  });

  it('close() ends a running stream and stops listening', async () => {
    const mock = await startMock({ spec: 'spec/telemetry.yaml', count: 1000, interval: 20, cwd: ROOT, onError: () => {} });
    const reading = read('ndjson', `${mock.url}/v1/fleets/f/events`);
    await new Promise((r) => setTimeout(r, 100));
    await mock.close();
    const { frames } = await reading;
    expect(frames.length).toBeGreaterThan(0);
    expect(frames.length).toBeLessThan(1000);
    await expect(fetch(`${mock.url}/v1/fleets/f/events`)).rejects.toThrow();
  });
});

describe('mock of a small contract', () => {
  const CONTRACT = `streamspec: "1.0"
info: { title: Ticks, version: 1.0.0 }
package: ticks.v1
transport: sse
streams:
  ticks:
    path: /v1/ticks
    direction: server-to-client
    producer: server
    consumer: browser
    messages:
      tick: { type: object, required: [n], properties: { n: { type: integer, format: int32, minimum: 0 } } }
    termination: { message: done }
    backpressure: { strategy: pull }
    heartbeat: { interval: 100ms, timeout: 300ms }
`;

  it('sends heartbeats while quiet, and a terminal without payload as null', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'streamspec-mock-test-'));
    writeFileSync(join(dir, 'ticks.yaml'), CONTRACT);
    const mock = await startMock({ spec: 'ticks.yaml', cwd: dir, count: 2, interval: 350, onError: () => {} });
    try {
      const text = await (await fetch(`${mock.url}/v1/ticks`)).text();
      expect(parseFrames('sse', text).map(({ seq, type, data }) => [seq, type, data])).toEqual([
        [1, 'tick', { n: 0 }],
        [2, 'tick', { n: 1 }],
        [3, 'done', null],
      ]);
      // 350 ms between the ticks, a heartbeat every 100 ms of quiet: at least two of them.
      const between = text.slice(text.indexOf('event: tick'), text.lastIndexOf('event: tick'));
      expect(between.match(/^:.*$/gm)?.length ?? 0).toBeGreaterThanOrEqual(2);
    } finally {
      await mock.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('startMock refuses', () => {
  it('a contract with errors, with its diagnostics', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'streamspec-mock-test-'));
    try {
      writeFileSync(join(dir, 'bad.yaml'), 'streamspec: "1.0"\ninfo: { title: T, version: 1.0.0 }\npackage: t.v1\nstreams: { feed: { path: /v1/feed } }\n');
      const e = await startMock({ spec: 'bad.yaml', cwd: dir }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(MockContractError);
      expect((e as MockContractError).diagnostics.some((d) => d.severity === 'error' && d.file === 'bad.yaml')).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A WebSocket stream call with npm `ws`: every text frame, and the close code. */
async function wsCall(url: string, open: Record<string, unknown>, during?: (ws: WebSocket, frames: Frame[]) => void, stopAfter = Infinity) {
  const ws = new WebSocket(url, ['streamspec.v1']);
  const frames: Frame[] = [];
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  ws.on('message', (d) => {
    const f = JSON.parse(d.toString()) as Frame;
    if (f.seq === undefined) return;
    frames.push(f);
    if (frames.length >= stopAfter) ws.terminate();
  });
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  ws.send(JSON.stringify({ type: '$open', ...open }));
  during?.(ws, frames);
  const code = await Promise.race([closed, new Promise<number>((_, reject) => setTimeout(() => reject(new Error('no close within 5 s')), 5000))]);
  return { code, frames };
}

describe('mock of spec/room.yaml over websocket', () => {
  let mock: MockServer;
  let validate: (m: unknown) => Issue[];
  let url: string;
  beforeAll(async () => {
    mock = await startMock({ spec: 'spec/room.yaml', count: COUNT, interval: 10, cwd: ROOT, onError: () => {} });
    validate = (await validators('room')).validateRoomMessage!;
    url = `${mock.url.replace('http:', 'ws:')}/v1/rooms/lobby`;
  });
  afterAll(() => mock?.close());

  it('lists the stream as an upgrade, and plain HTTP gets 426', async () => {
    expect(mock.transport).toBe('websocket');
    expect(mock.routes).toEqual([{ stream: 'room', method: 'WS', path: '/v1/rooms/{roomId}' }]);
    expect(mock.problems).toEqual([]);
    expect((await fetch(`${mock.url}/v1/rooms/lobby`)).status).toBe(426);
  });

  it('sends schema-valid messages, seq 1..N, the terminal last, then close 1000', async () => {
    const { code, frames } = await wsCall(url, { request: {} });
    expect(code).toBe(1000);
    expect(frames.map((f) => f.type)).toEqual(['said', 'joined', 'left', 'typing', 'said', 'joined', 'closed']);
    expect(frames.map((f) => f.seq)).toEqual(frames.map((_, i) => i + 1));
    for (const f of frames) expect(validate({ type: f.type, data: f.data }), JSON.stringify(f)).toEqual([]);
  });

  it('accepts valid client messages and answers an invalid one with the in-band error', async () => {
    const { frames } = await wsCall(url, { request: {} }, (ws) => {
      ws.send(JSON.stringify({ seq: 1, type: 'say', data: { text: 'hello' } }));
      ws.send(JSON.stringify({ seq: 2, type: 'say', data: { text: 7 } }));
    });
    const problems = frames.filter((f) => f.type === 'problem');
    expect(problems.map((f) => f.data)).toEqual([{ code: 'INVALID_REQUEST', message: expect.stringMatching(/^client message 2: data\.text: /), retryable: false }]);
    for (const f of frames) expect(validate({ type: f.type, data: f.data })).toEqual([]);
  });

  it('resumes an interrupted stream where it left off', async () => {
    const full = await wsCall(url, { request: {} });
    const first = await wsCall(url, { request: {} }, undefined, 3);
    expect(strip(first.frames)).toEqual(strip(full.frames.slice(0, 3)));
    const resumed = await wsCall(url, { request: {}, resume: first.frames[2]!.id });
    expect(resumed.code).toBe(1000);
    expect(strip(resumed.frames)).toEqual(strip(full.frames.slice(3)));
  });
});

describe('mock of test/fixtures/grpc/market.yaml over grpc', () => {
  // The generated Node client and validators of the contract, from their own generate run (no
  // committed output exists for this fixture): what a user of the mock would point at it.
  type Client = { createClient(o: { baseUrl: string; protocol?: string }): Record<string, (args: object) => any> };
  let mock: MockServer;
  let client: Client;
  let validators: Record<string, (m: unknown) => Issue[]>;
  let dir: string;
  beforeAll(async () => {
    // Under test/.work (git-ignored) so the generated client resolves the repo's npm packages.
    mkdirSync(join(ROOT, 'test', '.work'), { recursive: true });
    dir = mkdtempSync(join(ROOT, 'test', '.work', 'mock-grpc-'));
    const out = join(dir, 'out');
    expect((await generate({ spec: 'test/fixtures/grpc/market.yaml', out, cwd: ROOT })).ok).toBe(true);
    client = (await import(join(out, 'client.ts'))) as Client;
    validators = (await import(join(out, 'validate.ts'))) as Record<string, (m: unknown) => Issue[]>;
    mock = await startMock({ spec: 'test/fixtures/grpc/market.yaml', count: COUNT, interval: 5, cwd: ROOT, onError: () => {} });
  });
  afterAll(async () => {
    await mock?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const all = async (call: AsyncIterable<{ type: string; id: string; data: unknown }>) => {
    const got = [];
    for await (const m of call) got.push(m);
    return got;
  };
  const failure = (call: AsyncIterable<unknown>) => all(call as never).then(() => undefined, (e: unknown) => e);

  it('lists every rpc by its path, one port for every protocol', () => {
    expect(mock.transport).toBe('grpc');
    expect(mock.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(mock.routes).toEqual([
      { stream: 'quotes', method: 'RPC', path: '/market.v1.MarketService/Quotes' },
      { stream: 'orders', method: 'RPC', path: '/market.v1.MarketService/Orders' },
      { stream: 'desk', method: 'RPC', path: '/market.v1.MarketService/Desk' },
    ]);
  });

  it.each(['grpc', 'connect', 'grpc-web'])('server-streaming over %s: schema-valid messages, seq 1..N, the terminal last', async (protocol) => {
    const got = await all(client.createClient({ baseUrl: mock.url, protocol }).quotes!({ params: { symbol: 'ABC' }, request: { count: 1 } }));
    expect(got.map((m) => m.type)).toEqual(['quote', 'note', 'quote', 'note', 'quote', 'note', 'end']);
    expect(got.map((m) => Number(m.id.split('.')[1]))).toEqual(got.map((_, i) => i + 1));
    for (const m of got) expect(validators.validateQuotesMessage!({ type: m.type, data: m.data }), JSON.stringify(m)).toEqual([]);
  });

  it('resumes a stream where it left off', async () => {
    const c = client.createClient({ baseUrl: mock.url });
    const full = await all(c.quotes!({ params: { symbol: 'ABC' }, request: { count: 1 } }));
    const first = [];
    for await (const m of c.quotes!({ params: { symbol: 'ABC' }, request: { count: 1 } })) if (first.push(m) === 3) break;
    const rest = await all(c.quotes!({ params: { symbol: 'ABC' }, request: { count: 1 }, resumeFrom: first[2].id }));
    expect(rest.map(({ type, data }) => ({ type, data }))).toEqual(full.slice(3).map(({ type, data }) => ({ type, data })));
  });

  it('client-streaming: takes valid messages and answers with the terminal message', async () => {
    const call = client.createClient({ baseUrl: mock.url }).orders!({ params: {}, request: { trader: 't' } });
    await call.send({ type: 'order', data: { id: 'a', side: 'buy', quantity: 2 } });
    await call.send({ type: 'cancel', data: null });
    call.close();
    const got = await all(call);
    expect(got.map((m) => m.type)).toEqual(['receipt']);
    expect(validators.validateOrdersMessage!({ type: 'receipt', data: got[0]!.data })).toEqual([]);
  });

  it('client-streaming: an invalid client message ends the call with INVALID_REQUEST', async () => {
    const call = client.createClient({ baseUrl: mock.url }).orders!({ params: {}, request: { trader: 't' } });
    await call.send({ type: 'order', data: { id: 'a', side: 'buy', quantity: 0 } });
    call.close();
    expect(await failure(call)).toMatchObject({ name: 'StreamError', code: 'INVALID_REQUEST', message: 'data.quantity: must be >= 1' });
  });

  it('bidirectional: answers an invalid client message with the in-band error, and goes on', async () => {
    const call = client.createClient({ baseUrl: mock.url }).desk!({ params: {}, request: undefined });
    await call.send({ type: 'order', data: { id: 'a', side: 'buy', quantity: 0 } });
    const got = await all(call);
    expect(got.filter((m) => m.type === 'problem').map((m) => m.data)).toEqual([{ code: 'INVALID_REQUEST', message: 'data.quantity: must be >= 1' }]);
    expect(got.filter((m) => m.type === 'fill')).toHaveLength(COUNT);
    expect(got.at(-1)!.type).toBe('closed');
    for (const m of got) expect(validators.validateDeskMessage!({ type: m.type, data: m.data })).toEqual([]);
  });
});
