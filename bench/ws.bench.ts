// The WebSocket runtime's bench rows (issue 4), all on 127.0.0.1; `bench/run.ts` runs it after the
// HTTP bench, or alone: `node bin/run-ts.js bench/ws.bench.ts [--json] [--only throughput,bundle]`.
//
// - throughput: messages/s of the generated server + generated client (spec/assistant.yaml
//   `completion` generated for websocket: pull, window 64, output validation on as shipped; the
//   client in Node with npm `ws` injected) against raw `ws` (a plain WebSocketServer calling
//   `send` once per message, a plain `ws` client counting), on the same ~100-byte frames, in one
//   process, alternating, median of RUNS. The ratio is the median of the ratios of each pair of
//   runs made back to back, so a machine whose load changes during the bench skews it less.
//   Target: >= 100 % of raw.
// - bundle: the generated browser client for one stream (generated/room), esbuild minified and
//   gzipped. Target: <= 3 KB (`reconnecting-websocket` alone is 3.3 KB).
//
// `--json` prints the rows as JSON on stdout (the verdict lines then go to stderr).

import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket, { WebSocketServer } from 'ws';
import type * as Client from '../generated/room/client.ts';
import type * as Server_ from '../generated/room/server.ts';
import { loadGenerated, within, type GeneratedCode } from '../test/http-harness.ts';
import { removeWorkDirs, workDir } from '../test/support/tools.ts';
import { bundleRow, median, printRows, type Row } from './rows.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { json: { type: 'boolean', default: false }, only: { type: 'string' } } });
const wanted = (group: string) => values.only === undefined || values.only.split(',').includes(group);
const log = (line: string) => process.stderr.write(`${line}\n`);

const MESSAGES = 50_000; // per throughput run
const RUNS = 7;
const RUN_TIMEOUT_MS = 20_000;
const TARGET_RATIO = 1;
const TARGET_BUNDLE = 3072; // 3 KB
const TEXT = 'x'.repeat(40); // a token frame of about 100 bytes, as in the HTTP bench
const CONVERSATION = '5f0c2e1a-7b7e-4c1d-9a53-2f4b8e9d6c10';
const PATH = `/v1/conversations/${CONVERSATION}/completion`;
const SUBPROTOCOL = 'streamspec.v1';

const rows: Row[] = [];

// The assistant contract generated for websocket: the server and client types are the
// generated ones of that output; only their shapes matter here.
interface AssistantWs {
  server: {
    createRouter(
      handlers: {
        completion(ctx: unknown): AsyncGenerator<{ type: 'token'; data: { text: string; index: number } }, { type: 'done'; data: { finishReason: string } }>;
        history(ctx: unknown): AsyncGenerator<never, { type: 'end'; data: { count: number } }>;
      },
      options?: Server_.WebSocketRouterOptions,
    ): Server_.WebSocketRouter;
  };
  client: {
    openCompletion(client: Client.ClientOptions, args: { params: { conversationId: string }; request: { prompt: string } }): AsyncIterable<{ type: string }>;
  };
}

interface Upgrading {
  readonly base: string;
  close(): Promise<void>;
}

/** A node:http server on 127.0.0.1 whose upgrades go to `attach`'s listener. */
async function upgrading(attach: (server: Server) => void, detach: () => void): Promise<Upgrading> {
  const server = createServer((_, res) => res.writeHead(426).end());
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  attach(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    base: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      detach();
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

// --- the generated side -------------------------------------------------------------------------

function countingRouter(g: AssistantWs): Server_.WebSocketRouter {
  return g.server.createRouter(
    {
      async *completion() {
        for (let i = 0; i < MESSAGES; i++) yield { type: 'token', data: { text: TEXT, index: i } };
        return { type: 'done', data: { finishReason: 'stop' } };
      },
      async *history() {
        return { type: 'end', data: { count: 0 } };
      },
    },
    // assistant.yaml says `auth: required`: one principal, as a real client would be.
    { authenticate: () => ({ id: 'bench' }), onError: () => {} },
  );
}

/** A run's messages/s (wall clock) and CPU µs per message (this process: both ends, client and server). */
interface RunResult {
  readonly rate: number;
  readonly cpuUs: number;
}

async function timed(work: () => Promise<number>): Promise<RunResult> {
  const t = performance.now();
  const cpu = process.cpuUsage();
  const n = await work();
  const used = process.cpuUsage(cpu);
  return { rate: (n / (performance.now() - t)) * 1000, cpuUs: (used.user + used.system) / n };
}

const generatedRun = (g: AssistantWs, base: string) => timed(() => generatedMessages(g, base));
const rawRun = (base: string) => timed(() => rawMessages(base));

async function generatedMessages(g: AssistantWs, base: string): Promise<number> {
  let n = 0;
  const call = g.client.openCompletion(
    { baseUrl: base, WebSocket: WebSocket as unknown as Client.WebSocketConstructor },
    { params: { conversationId: CONVERSATION }, request: { prompt: 'bench' } },
  );
  for await (const m of call) if (m.type === 'token') n++;
  if (n !== MESSAGES) throw new Error(`generated: ${n} of ${MESSAGES} messages`);
  return n;
}

// --- the raw baseline ---------------------------------------------------------------------------

/** A plain `ws` server: every message its own `send`, as a hand-written server does, then close 1000. */
function rawServer(): { attach(server: Server): void; close(): void } {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, handleProtocols: () => SUBPROTOCOL });
  const id = 'AbCdEfGhIjKlMnOpQrSt_-';
  const frame = (n: number, type = 'token') => `{"seq":${n + 1},"id":"${id}.${n + 1}","type":"${type}","data":${JSON.stringify({ text: TEXT, index: n })}}`;
  wss.on('connection', (ws) => {
    ws.once('message', () => {
      for (let i = 0; i < MESSAGES; i++) ws.send(frame(i));
      ws.send(frame(MESSAGES, 'done'));
      ws.close(1000);
    });
  });
  return {
    attach: (server) => server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req))),
    close: () => wss.close(),
  };
}

async function rawMessages(base: string): Promise<number> {
  let n = 0;
  const ws = new WebSocket(base + PATH, SUBPROTOCOL);
  ws.on('open', () => ws.send('{"type":"$open"}'));
  ws.on('message', (data) => {
    if ((JSON.parse(data.toString()) as { type: string }).type === 'token') n++;
  });
  await new Promise<void>((r, reject) => {
    ws.on('close', () => r());
    ws.on('error', reject);
  });
  if (n !== MESSAGES) throw new Error(`raw: ${n} of ${MESSAGES} messages`);
  return n;
}

// --- rows ---------------------------------------------------------------------------------------

async function throughput(g: AssistantWs): Promise<void> {
  log(`bench: websocket throughput, ${RUNS} x ${MESSAGES} messages each side...`);
  const router = countingRouter(g);
  const gen = await upgrading((s) => router.upgrade(s), () => router.close());
  const rawWs = rawServer();
  const raw = await upgrading(rawWs.attach, rawWs.close);
  const ours: RunResult[] = [];
  const theirs: RunResult[] = [];
  const ratios: number[] = [];
  try {
    await within(generatedRun(g, gen.base), RUN_TIMEOUT_MS, 'warm-up'); // JIT warm-up, not counted
    await within(rawRun(raw.base), RUN_TIMEOUT_MS, 'warm-up');
    for (let i = 0; i < RUNS; i++) {
      ours.push(await within(generatedRun(g, gen.base), RUN_TIMEOUT_MS, 'generated run'));
      theirs.push(await within(rawRun(raw.base), RUN_TIMEOUT_MS, 'raw run'));
      ratios.push(ours.at(-1)!.rate / theirs.at(-1)!.rate);
    }
  } finally {
    await gen.close();
    await raw.close();
  }
  const a = median(ours.map((r) => r.rate));
  const b = median(theirs.map((r) => r.rate));
  const ratio = median(ratios);
  const cpu = (rs: readonly RunResult[]) => `CPU ${median(rs.map((r) => r.cpuUs)).toFixed(1)} µs/msg (both ends)`;
  rows.push({ case: 'throughput, generated', transport: 'websocket', value: Math.round(a), unit: 'msg/s', target: null, pass: null, note: `median of ${RUNS}; credit window 64, validation on; ${cpu(ours)}` });
  rows.push({ case: 'throughput, raw ws', transport: 'websocket', value: Math.round(b), unit: 'msg/s', target: null, pass: null, note: `one send per message; ws client counting; ${cpu(theirs)}` });
  rows.push({
    case: 'throughput, generated / raw',
    transport: 'websocket',
    value: Math.round(ratio * 1000) / 10,
    unit: '%',
    target: `>= ${TARGET_RATIO * 100} %`,
    pass: ratio >= TARGET_RATIO,
    note: `median of ${RUNS} paired runs; range ${Math.round(Math.min(...ratios) * 100)}-${Math.round(Math.max(...ratios) * 100)} %`,
  });
}

async function bundle(): Promise<void> {
  log('bench: websocket client bundle for one stream...');
  rows.push(await bundleRow("export { openRoom } from './generated/room/client.ts';\n", ROOT, 'websocket', TARGET_BUNDLE, 'generated/room openRoom'));
}


const started = performance.now();
// Inside the repo (test/.work), so the generated server finds npm `ws` in node_modules.
const work = workDir('ws-bench');
try {
  if (wanted('throughput')) {
    const gen = spawnSync(process.execPath, [join(ROOT, 'bin', 'streamspec.js'), 'generate', 'spec/assistant.yaml', '--transport', 'websocket', '--out', work], { cwd: ROOT, encoding: 'utf8' });
    if (gen.status !== 0) throw new Error(`streamspec generate (websocket) failed:\n${gen.stderr}`);
    const g = (await loadGenerated<AssistantWs['server'], AssistantWs['client']>(work)) satisfies GeneratedCode<AssistantWs['server'], AssistantWs['client']>;
    await throughput(g);
  }
  if (wanted('bundle')) await bundle();
} finally {
  removeWorkDirs();
}

printRows(rows, 'websocket', started, values.json);
process.exit(0);
