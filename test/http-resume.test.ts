// Server killed mid-stream: the server side of the stream's connection is destroyed (once,
// repeatedly, or with closeAllConnections) while the generated client reads; it must reconnect
// with Last-Event-ID (SSE) or Streamspec-Resume (NDJSON) and deliver every message of the
// deterministic example sequence exactly once. A server process that is killed and replaced
// has lost the instance: the client must get RESUME_EXPIRED as a typed StreamError, not a gap.

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHandlers } from '../examples/assistant/handlers.ts';
import type * as Client from '../generated/assistant/client.ts';
import type * as Server from '../generated/assistant/server.ts';
import { collect, CONVERSATION, type GeneratedCode, generateInto, listen, type Listening, loadGenerated, ROOT, sleep, within } from './http-harness.ts';

type Generated = GeneratedCode<typeof Server, typeof Client>;
const transports: Record<'sse' | 'ndjson', Generated> = {} as never;
beforeAll(async () => {
  const load = (dir: string) => loadGenerated<typeof Server, typeof Client>(dir);
  transports.sse = await load(`${ROOT}generated/assistant`);
  transports.ndjson = await load(generateInto('spec/assistant.yaml', 'ndjson', 'resume-ndjson'));
});

let server: Listening | undefined;
const children: ChildProcess[] = [];
afterEach(async () => {
  await server?.close();
  server = undefined;
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

const PROMPT = 'resume me';

/** What examples/assistant/handlers.ts sends for `maxTokens: n`, as the client delivers it. */
function expected(n: number): { type: string; data: unknown }[] {
  return [
    ...Array.from({ length: n }, (_, i) => ({
      type: 'token',
      data: { text: `w${i} `, index: i },
    })),
    { type: 'usage', data: { inputTokens: PROMPT.length, outputTokens: n } },
    { type: 'done', data: { finishReason: 'stop' } },
  ];
}

type Kill = 'destroy' | 'closeAllConnections';

describe.each(['sse', 'ndjson'] as const)('%s', (transport) => {
  const resumeHeader = transport === 'sse' ? 'last-event-id' : 'streamspec-resume';

  it.each<[string, { kill: Kill; at: readonly number[]; tokens: number; delayMs: number }]>([
    // A handler slower than the reader: the resumed call continues from `resumeFrom`.
    ['socket destroyed once, handler pacing the stream', { kill: 'destroy', at: [100], tokens: 400, delayMs: 1 }],
    [
      'socket destroyed five times',
      {
        kill: 'destroy',
        at: [50, 120, 200, 201, 330],
        tokens: 400,
        delayMs: 1,
      },
    ],
    ['closeAllConnections() mid-stream', { kill: 'closeAllConnections', at: [150], tokens: 400, delayMs: 1 }],
    // A handler far ahead of the reader: frames lost in flight come back from the replay buffer.
    ['socket destroyed with frames in flight', { kill: 'destroy', at: [100, 2500], tokens: 5000, delayMs: 0 }],
  ])('%s: every message exactly once', async (_name, { kill, at, tokens, delayMs }) => {
    const { server: S, client: C } = transports[transport];
    server = await listen(
      S.createRouter(createHandlers({ delayMs }), {
        authenticate: () => ({ id: 'test' }),
        retryMs: 20,
        onError: () => {},
      }).node,
    );
    const srv = server;
    const call = C.openCompletion(
      { baseUrl: srv.base, maxRetryMs: 20 },
      {
        params: { conversationId: CONVERSATION },
        request: { prompt: PROMPT, maxTokens: tokens },
      },
    );
    const killedAfter: string[] = [];
    let n = 0;
    const { got, err } = await collect(call, 30_000, (m) => {
      if (!at.includes(++n)) return;
      killedAfter.push(m.id);
      if (kill === 'closeAllConnections') srv.server.closeAllConnections();
      else srv.exchanges.at(-1)!.req.socket.destroy();
    });
    expect(err).toBeUndefined();
    expect(got.map(({ type, data }) => ({ type, data }))).toEqual(expected(tokens));
    // One instance, numbered 1..n without a gap or a repeat.
    expect(got.map((m) => m.id)).toEqual(got.map((_, i) => `${got[0]!.id.split('.')[0]}.${i + 1}`));
    // Each kill made the client come back, resuming from a position it had already delivered.
    const resumes = srv.exchanges.slice(1).map((x) => x.req.headers[resumeHeader]);
    console.log(`${transport} ${_name}: ${srv.exchanges.length} connections, resumed from ${resumes.join(', ')}`);
    expect(srv.exchanges.length).toBe(at.length + 1);
    const ids = new Set(got.map((m) => m.id));
    for (const r of resumes) expect(ids.has(String(r))).toBe(true);
    expect(killedAfter).toHaveLength(at.length);
  });
});

/** Starts test/http-child-server.ts on `port` (0: any) and resolves with the port it listens on. */
async function startChild(port: number, delayMs: number): Promise<number> {
  const child = spawn(process.execPath, [`${ROOT}bin/run-ts.js`, `${ROOT}test/http-child-server.ts`, String(port), String(delayMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const line = await within(
    new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`child server exited with ${code}`)));
    }),
    20_000,
    'child server',
  );
  return Number(/^listening (\d+)$/.exec(line)![1]);
}

it('a server process killed and restarted: the client gets RESUME_EXPIRED as a StreamError, after a gapless prefix', async () => {
  const C = transports.sse.client;
  const port = await startChild(0, 5);
  const call = C.openCompletion(
    { baseUrl: `http://127.0.0.1:${port}`, maxRetryMs: 100, maxAttempts: 200 },
    {
      params: { conversationId: CONVERSATION },
      request: { prompt: PROMPT, maxTokens: 1000 },
    },
  );
  let restarted: Promise<number> | undefined;
  const { got, err } = await collect(call, 40_000, async (m) => {
    if (m.type !== 'token' || m.data.index !== 19) return;
    children.at(-1)!.kill('SIGKILL');
    await new Promise((r) => children.at(-1)!.once('exit', r));
    // The client retries against a closed port meanwhile; it must not take that as the end.
    restarted = sleep(200).then(() => startChild(port, 5));
  });
  expect(await restarted).toBe(port);
  expect(err).toBeInstanceOf(C.StreamError);
  expect((err as InstanceType<typeof C.StreamError>).code).toBe('RESUME_EXPIRED');
  // Whatever arrived before the kill is the start of the sequence, with nothing missing.
  expect(got.length).toBeGreaterThanOrEqual(20);
  expect(got.map(({ type, data }) => ({ type, data }))).toEqual(expected(1000).slice(0, got.length));
  console.log(`restart: ${got.length} messages, then ${(err as Error).name} ${(err as { code?: string }).code}: ${(err as Error).message}`);
});
