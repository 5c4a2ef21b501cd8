// `npm run bench` (second part): the HTTP streaming runtime, all on 127.0.0.1.
//
// - throughput: messages/s of the generated server + generated client (spec/assistant.yaml
//   `completion`, pull, with output validation on as shipped), SSE and NDJSON, against a raw
//   node:http loop read with fetch + eventsource-parser (SSE) or a line split (NDJSON), on the same
//   ~100-byte frames, in the same process. Target: >= 85 % of raw.
//   Two generated rows: the contract as it is (resume retention 10000 messages: every frame is
//   also kept for a reconnect), and the same stream with `resume: none`, which like the raw loop
//   keeps nothing. Both carry the target; the gap between them is the price of resume.
//   Fairness, as checked: the same frame bytes (ids included) on either side; both servers honour
//   backpressure (the raw loop stops when write() says false and waits for 'drain'); both readers
//   parse every frame's JSON and count the same tokens; both run in this one process. The raw
//   reader feeds eventsource-parser each chunk whole, as a plain use of it would; the generated
//   source feeds it pieces of about 1 KiB (the parser's cost grows with the piece: see
//   sse-source.ts), which is a cost of the generated side's own making, not of the bench.
//   The ratio is the median of PAIRS paired runs (generated, raw, back to back, the order
//   alternating), not the ratio of two medians: on a shared machine the load drifts between runs,
//   and a pair sees about the same load. Single pairs here range over 30 points or more when a
//   burst of load hits one side; the median of 9 pairs is moved less by two or three such pairs
//   than the median of 5.
// - memory: RSS growth of the generated server (a child process) under a consumer taking
//   100 messages/s for 20 s from a producer that would run at full speed. Target: < 16 MiB.
// - time to first message: open -> first message, median and p95 of TTFM_RUNS opens.
// - time to resume: the connection dropped mid-stream -> the next message, gap-free. Target: <= 500 ms.
// - bundle: the generated client for one stream, minified and gzipped. Target: <= 2.5 KB.
// - client CPU (with throughput): CPU time per message of the generated client and of the raw
//   reader, both against the raw server in a child process, so only the client side is counted.
//   On a shared machine this is steadier than messages/s, which also counts the server and waits.
// - server CPU (with throughput): the other half: CPU time per message of the generated server
//   and of the raw loop, both read by the raw reader in a child process.
//
// `--json` prints the rows as JSON on stdout (the verdict lines then go to stderr).

import { spawn, spawnSync } from 'node:child_process';
import type { RequestListener } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createParser } from 'eventsource-parser';
import type * as Client from '../generated/assistant/client.ts';
import type * as Server_ from '../generated/assistant/server.ts';
import { listen, loadGenerated, within, type GeneratedCode } from '../test/http-harness.ts';
import { bundleRow, median, percentile, printRows, type Row } from './rows.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    only: { type: 'string' },
    'raw-server': { type: 'boolean', default: false },
    'raw-client': { type: 'string' },
  },
});
// `--only throughput,bundle`: just those groups (while working on one number).
const wanted = (group: string) => values.only === undefined || values.only.split(',').includes(group);
const log = (line: string) => process.stderr.write(`${line}\n`);

const MESSAGES = 100_000; // per throughput run
const RUNS = 5;
const PAIRS = 9; // throughput
const RUN_TIMEOUT_MS = 15_000;
const TTFM_RUNS = 30;
const RESUME_RUNS = 10;
const TARGET_RESUME_MS = 500;
const MEMORY_SECONDS = 20;
const RATE = 100; // messages/s of the slow consumer
const TARGET_RATIO = 0.85;
const TARGET_GROWTH_MIB = 16;
const TARGET_BUNDLE = 2560; // 2.5 KB
const TEXT = 'x'.repeat(40); // a token frame of about 100 bytes on either transport
const CONVERSATION = '5f0c2e1a-7b7e-4c1d-9a53-2f4b8e9d6c10';
const PATH = `/v1/conversations/${CONVERSATION}/completion`;

const rows: Row[] = [];

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// Servers, bounded waits and loading generated code: the same helpers the HTTP tests use.
type Generated = GeneratedCode<typeof Server_, typeof Client>;
const loadAssistant = (dir: string): Promise<Generated> => loadGenerated<typeof Server_, typeof Client>(dir);

// --- the generated side -------------------------------------------------------------------------

/** `count` tokens as fast as they are pulled, then `done`. */
function countingHandlers(count: number): Server_.AssistantHandlers {
  return {
    async *completion() {
      for (let i = 0; i < count; i++) yield { type: 'token', data: { text: TEXT, index: i } };
      return { type: 'done', data: { finishReason: 'stop' } };
    },
    async *history() {
      return { type: 'end', data: { count: 0 } };
    },
  };
}

async function generatedRun(g: Generated, base: string): Promise<number> {
  const t = performance.now();
  let n = 0;
  const call = g.client.openCompletion({ baseUrl: base }, { params: { conversationId: CONVERSATION }, request: { prompt: 'bench' } });
  for await (const m of call) if (m.type === 'token') n++;
  if (n !== MESSAGES) throw new Error(`generated: ${n} of ${MESSAGES} messages`);
  return (n / (performance.now() - t)) * 1000;
}

// --- the raw baseline ---------------------------------------------------------------------------

/** A plain node:http loop: one write per frame, waiting for `drain` when write() says so. */
function rawListener(transport: 'sse' | 'ndjson'): RequestListener {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': transport === 'sse' ? 'text/event-stream' : 'application/x-ndjson', 'cache-control': 'no-store' });
    const id = 'AbCdEfGhIjKlMnOpQrSt_-';
    let i = 0;
    const frame = (n: number) => {
      const data = JSON.stringify({ text: TEXT, index: n });
      return transport === 'sse'
        ? `id: ${id}.${n + 1}\nevent: token\ndata: ${data}\n\n`
        : `{"seq":${n + 1},"id":"${id}.${n + 1}","type":"token","data":${data}}\n`;
    };
    const pump = () => {
      while (i < MESSAGES) if (!res.write(frame(i++))) return void res.once('drain', pump);
      res.end(transport === 'sse' ? `id: ${id}.${i + 1}\nevent: done\ndata: {"finishReason":"stop"}\n\n` : frame(i).replace('token', 'done'));
    };
    pump();
  };
}

async function rawRun(transport: 'sse' | 'ndjson', base: string): Promise<number> {
  const t = performance.now();
  let n = 0;
  // The query is the generated server's required request; the raw loop ignores it.
  const res = await fetch(base + PATH + '?prompt=bench', { headers: { accept: transport === 'sse' ? 'text/event-stream' : 'application/x-ndjson' } });
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  if (transport === 'sse') {
    const parser = createParser({ onEvent: (e) => void (JSON.parse(e.data), e.event === 'token' && n++) });
    for (let c; !(c = await reader.read()).done; ) parser.feed(dec.decode(c.value, { stream: true }));
  } else {
    let buf = '';
    for (let c; !(c = await reader.read()).done; ) {
      const lines = dec.decode(c.value, { stream: true }).split('\n');
      lines[0] = buf + lines[0];
      buf = lines.pop()!;
      for (const l of lines) if (JSON.parse(l).type === 'token') n++;
    }
  }
  if (n !== MESSAGES) throw new Error(`raw: ${n} of ${MESSAGES} messages`);
  return (n / (performance.now() - t)) * 1000;
}

// --- rows ---------------------------------------------------------------------------------------

/** The paired throughput rows; `variant` names a generated side other than the contract as it is. */
async function throughput(transport: 'sse' | 'ndjson', g: Generated, variant?: string): Promise<void> {
  log(`bench: throughput ${transport}${variant ? ` (${variant})` : ''}, ${PAIRS} x ${MESSAGES} messages each side...`);
  const gen = await listen(g.server.createRouter(countingHandlers(MESSAGES), { authenticate: () => ({ id: 'test' }), onError: () => {} }).node);
  const raw = await listen(rawListener(transport));
  const ours: number[] = [];
  const theirs: number[] = [];
  const ratios: number[] = [];
  try {
    await within(generatedRun(g, gen.base), RUN_TIMEOUT_MS, 'warm-up'); // JIT warm-up, not counted
    await within(rawRun(transport, raw.base), RUN_TIMEOUT_MS, 'warm-up');
    for (let i = 0; i < PAIRS; i++) {
      const runGen = async () => ours.push(await within(generatedRun(g, gen.base), RUN_TIMEOUT_MS, 'generated run'));
      const runRaw = async () => theirs.push(await within(rawRun(transport, raw.base), RUN_TIMEOUT_MS, 'raw run'));
      // Alternating who goes first, so neither side always runs right after the other's garbage.
      if (i % 2) await runRaw(), await runGen();
      else await runGen(), await runRaw();
      ratios.push(ours.at(-1)! / theirs.at(-1)!);
    }
  } finally {
    await gen.close();
    await raw.close();
  }
  const a = median(ours);
  const b = median(theirs);
  const ratio = median(ratios);
  const name = variant ? `generated (${variant})` : 'generated';
  rows.push({ case: `throughput, ${name}`, transport, value: Math.round(a), unit: 'msg/s', target: null, pass: null, note: `median of ${PAIRS}` });
  if (!variant)
    rows.push({ case: 'throughput, raw node:http', transport, value: Math.round(b), unit: 'msg/s', target: null, pass: null, note: transport === 'sse' ? 'fetch + eventsource-parser' : 'fetch + line split' });
  const pairs = `median of ${PAIRS} paired runs; pairs ${ratios.map((r) => Math.round(r * 100)).join(', ')} %`;
  rows.push({
    case: `throughput, ${name} / raw`,
    transport,
    value: Math.round(ratio * 1000) / 10,
    unit: '%',
    target: `>= ${TARGET_RATIO * 100} %`,
    pass: ratio >= TARGET_RATIO,
    note: variant ? pairs : `${pairs}; every frame also kept for resume (retention 10000)`,
  });
}

/** CPU µs per message of each client against the raw server in a child (this file, `--raw-server`). */
async function clientCpu(transport: 'sse' | 'ndjson', g: Generated): Promise<void> {
  log(`bench: client CPU ${transport}, ${RUNS} x ${MESSAGES} messages each side, server in a child process...`);
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'run-ts.js'), fileURLToPath(import.meta.url), '--raw-server'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await within(
      new Promise<number>((resolve_, reject) => {
        createInterface({ input: child.stdout! }).once('line', (l) => resolve_(Number(l)));
        child.once('exit', (code) => reject(new Error(`raw server exited with ${code}`)));
      }),
      20_000,
      'raw server',
    );
    const base = `http://127.0.0.1:${port}`;
    const cpu = async (run: () => Promise<number>) => {
      const before = process.cpuUsage();
      await within(run(), RUN_TIMEOUT_MS, 'client run');
      const d = process.cpuUsage(before);
      return (d.user + d.system) / MESSAGES;
    };
    await cpu(() => generatedRun(g, base)); // JIT warm-up, not counted
    await cpu(() => rawRun(transport, base));
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      ours.push(await cpu(() => generatedRun(g, base)));
      theirs.push(await cpu(() => rawRun(transport, base)));
    }
    const a = median(ours);
    const b = median(theirs);
    rows.push({ case: 'client CPU per message, generated', transport, value: Math.round(a * 100) / 100, unit: 'µs', target: null, pass: null, note: `median of ${RUNS}` });
    rows.push({ case: 'client CPU per message, raw', transport, value: Math.round(b * 100) / 100, unit: 'µs', target: null, pass: null, note: transport === 'sse' ? 'fetch + eventsource-parser' : 'fetch + line split' });
    rows.push({ case: 'client CPU, raw / generated', transport, value: Math.round((b / a) * 1000) / 10, unit: '%', target: null, pass: null, note: 'the client side of the throughput ratio' });
  } finally {
    child.kill();
  }
}

/** CPU µs per message of each server, read by the raw reader in a child (this file, `--raw-client`). */
async function serverCpu(transport: 'sse' | 'ndjson', g: Generated): Promise<void> {
  log(`bench: server CPU ${transport}, ${RUNS} x ${MESSAGES} messages each side, reader in a child process...`);
  const gen = await listen(g.server.createRouter(countingHandlers(MESSAGES), { authenticate: () => ({ id: 'test' }), onError: () => {} }).node);
  const raw = await listen(rawListener(transport));
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'run-ts.js'), fileURLToPath(import.meta.url), '--raw-client', transport], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  let fail = (_: Error) => {};
  child.once('exit', (code) => fail(new Error(`raw reader exited with ${code}`)));
  const next = () =>
    new Promise<string>((resolve_, reject) => {
      lines.once('line', resolve_);
      fail = reject;
    });
  try {
    await within(next(), 20_000, 'raw reader');
    const cpu = async (base: string) => {
      const before = process.cpuUsage();
      const done = next();
      child.stdin!.write(`${base}\n`);
      const answer = await within(done, RUN_TIMEOUT_MS, 'server run');
      if (answer !== 'ok') throw new Error(`raw reader: ${answer}`);
      const d = process.cpuUsage(before);
      return (d.user + d.system) / MESSAGES;
    };
    await cpu(gen.base); // JIT warm-up, not counted
    await cpu(raw.base);
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      ours.push(await cpu(gen.base));
      theirs.push(await cpu(raw.base));
    }
    const a = median(ours);
    const b = median(theirs);
    rows.push({ case: 'server CPU per message, generated', transport, value: Math.round(a * 100) / 100, unit: 'µs', target: null, pass: null, note: `median of ${RUNS}; resume retention on, as in the contract` });
    rows.push({ case: 'server CPU per message, raw', transport, value: Math.round(b * 100) / 100, unit: 'µs', target: null, pass: null, note: 'node:http loop, one write per frame' });
    rows.push({ case: 'server CPU, raw / generated', transport, value: Math.round((b / a) * 1000) / 10, unit: '%', target: null, pass: null, note: 'the server side of the throughput ratio' });
  } finally {
    child.stdin!.end();
    child.kill();
    await gen.close();
    await raw.close();
  }
}

async function timeToFirstMessage(transport: 'sse' | 'ndjson', g: Generated): Promise<void> {
  log(`bench: time to first message ${transport}, ${TTFM_RUNS} opens...`);
  const gen = await listen(g.server.createRouter(countingHandlers(1), { authenticate: () => ({ id: 'test' }), onError: () => {} }).node);
  const times: number[] = [];
  try {
    for (let i = 0; i < TTFM_RUNS + 3; i++) {
      const t = performance.now();
      const it = g.client.openCompletion({ baseUrl: gen.base }, { params: { conversationId: CONVERSATION }, request: { prompt: 'bench' } })[Symbol.asyncIterator]();
      await within(it.next(), 5000, 'first message');
      if (i >= 3) times.push(performance.now() - t); // the first opens warm the JIT and the pool
      await it.return!();
    }
  } finally {
    await gen.close();
  }
  rows.push({ case: 'time to first message', transport, value: Math.round(median(times) * 100) / 100, unit: 'ms', target: null, pass: null, note: `median; p95 ${percentile(times, 0.95).toFixed(2)} ms` });
}

/**
 * Time to resume: the server drops the connection mid-stream (socket destroyed); measured from
 * the drop to the next message the generated client delivers, which must be the very next one.
 */
async function timeToResume(transport: 'sse' | 'ndjson', g: Generated): Promise<void> {
  log(`bench: time to resume ${transport}, ${RESUME_RUNS} dropped connections...`);
  const router = g.server.createRouter(
    {
      async *completion({ resumeFrom = 0 }) {
        for (let i = resumeFrom; i < 1_000; i++) {
          await sleep(5);
          yield { type: 'token', data: { text: TEXT, index: i } };
        }
        return { type: 'done', data: { finishReason: 'stop' } };
      },
      async *history() {
        return { type: 'end', data: { count: 0 } };
      },
    },
    { authenticate: () => ({ id: 'test' }), onError: () => {} },
  );
  const gen = await listen(router.node);
  const times: number[] = [];
  try {
    for (let run = 0; run < RESUME_RUNS; run++) {
      const call = g.client.openCompletion({ baseUrl: gen.base }, { params: { conversationId: CONVERSATION }, request: { prompt: 'bench' } });
      let dropped = 0;
      let last = -1;
      for await (const m of call) {
        if (m.type !== 'token') break;
        if (m.data.index !== last + 1) throw new Error(`resume skipped or repeated: ${last} -> ${m.data.index}`);
        last = m.data.index;
        if (dropped) {
          times.push(performance.now() - dropped);
          break;
        }
        if (last === 20) {
          dropped = performance.now();
          for (const s of gen.sockets) s.destroy();
        }
      }
    }
  } finally {
    await gen.close();
  }
  const value = Math.round(median(times));
  rows.push({ case: 'time to resume after a drop', transport, value, unit: 'ms', target: `<= ${TARGET_RESUME_MS} ms`, pass: value <= TARGET_RESUME_MS, note: `median of ${times.length}; max ${Math.round(Math.max(...times))} ms` });
}

async function memory(g: Generated): Promise<void> {
  log(`bench: server memory under a ${RATE} msg/s consumer for ${MEMORY_SECONDS} s (server in a child process)...`);
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'run-ts.js'), join(ROOT, 'bench', 'http-server.ts'), '250'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const samples: { t: number; rss: number; produced: number }[] = [];
  let t0 = 0;
  try {
    const port = await within(
      new Promise<number>((resolve_, reject) => {
        lines.once('line', (l) => resolve_(Number(/^listening (\d+)$/.exec(l)?.[1])));
        child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
      }),
      20_000,
      'child server',
    );
    lines.on('line', (l) => t0 && samples.push({ t: performance.now() - t0, ...(JSON.parse(l) as { rss: number; produced: number }) }));
    const ac = new AbortController();
    const call = g.client.openCompletion({ baseUrl: `http://127.0.0.1:${port}` }, { params: { conversationId: CONVERSATION }, request: { prompt: 'slow' }, signal: ac.signal });
    t0 = performance.now();
    let consumed = 0;
    try {
      for await (const _ of call) {
        consumed++;
        if (performance.now() - t0 >= MEMORY_SECONDS * 1000) break;
        await sleep(t0 + (consumed * 1000) / RATE - performance.now());
      }
    } finally {
      ac.abort();
    }
    // Growth from the moment every buffer on the path has filled (a second or two) to the end.
    const base = samples.find((s) => s.t >= 2000) ?? samples[0]!;
    const peak = Math.max(...samples.filter((s) => s.t >= base.t).map((s) => s.rss));
    const growth = (peak - base.rss) / 2 ** 20;
    const last = samples.at(-1)!;
    rows.push({
      case: 'server RSS growth, slow consumer',
      transport: 'sse',
      value: Math.round(growth * 100) / 100,
      unit: 'MiB',
      target: `< ${TARGET_GROWTH_MIB} MiB`,
      pass: growth < TARGET_GROWTH_MIB,
      note: `${MEMORY_SECONDS} s; RSS ${(base.rss / 2 ** 20).toFixed(1)} -> peak ${(peak / 2 ** 20).toFixed(1)} MiB; produced ${last.produced}, consumed ${consumed}`,
    });
  } finally {
    child.stdin!.end();
    child.kill();
  }
}

async function bundle(): Promise<void> {
  log('bench: client bundle for one stream...');
  rows.push(await bundleRow("export { openCompletion } from './generated/assistant/client.ts';\n", ROOT, 'sse', TARGET_BUNDLE, 'eventsource-parser included'));
}


if (values['raw-client'] !== undefined) {
  // The child of serverCpu: reads one whole stream with the raw reader for each base URL on stdin.
  const transport = values['raw-client'] === 'ndjson' ? 'ndjson' : 'sse';
  process.stdout.write('ready\n');
  for await (const base of createInterface({ input: process.stdin })) {
    const answer = await rawRun(transport, base).then(
      () => 'ok',
      (e: unknown) => String(e).replace(/\n/g, ' '),
    );
    process.stdout.write(`${answer}\n`);
  }
  process.exit(0);
}

if (values['raw-server']) {
  // The child of clientCpu: the raw loop for either transport, chosen by the Accept header.
  const raw = await listen((req, res) => rawListener(req.headers.accept?.includes('ndjson') ? 'ndjson' : 'sse')(req, res));
  process.stdout.write(`${raw.port}\n`);
  await new Promise(() => {}); // served until the parent kills it
}

const started = performance.now();
const work = mkdtempSync(join(tmpdir(), 'streamspec-http-bench-'));
try {
  // Outside the repo nothing says the .ts files are ES modules, and nothing resolves the npm packages.
  writeFileSync(join(work, 'package.json'), '{ "type": "module" }\n');
  symlinkSync(join(ROOT, 'node_modules'), join(work, 'node_modules'));
  // The same contract with `completion` not resumable: the like-for-like side of the throughput target.
  const spec = readFileSync(join(ROOT, 'spec', 'assistant.yaml'), 'utf8');
  const noResume = spec.replace(/\n    resume:\n      strategy: last-event-id\n      retention: \{[^}]*\}\n/, '\n    resume: { strategy: none }\n');
  if (noResume === spec) throw new Error('spec/assistant.yaml: the completion stream\'s resume block was not found');
  writeFileSync(join(work, 'no-resume.yaml'), noResume);
  const generate = (specFile: string, transport: string, out: string) => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'streamspec.js'), 'generate', specFile, '--transport', transport, '--out', out], { cwd: ROOT, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`streamspec generate ${specFile} (${transport}) failed:\n${r.stderr}`);
    return loadAssistant(out);
  };
  const sse = await loadAssistant(join(ROOT, 'generated', 'assistant'));
  const ndjson = await generate('spec/assistant.yaml', 'ndjson', join(work, 'ndjson'));
  if (wanted('throughput'))
    for (const [t, g] of [['sse', sse], ['ndjson', ndjson]] as const) {
      await throughput(t, g);
      await throughput(t, await generate(join(work, 'no-resume.yaml'), t, join(work, `${t}-no-resume`)), 'resume: none');
      await clientCpu(t, g);
      await serverCpu(t, g);
    }
  if (wanted('ttfm')) for (const [t, g] of [['sse', sse], ['ndjson', ndjson]] as const) await timeToFirstMessage(t, g);
  if (wanted('resume')) for (const [t, g] of [['sse', sse], ['ndjson', ndjson]] as const) await timeToResume(t, g);
  if (wanted('memory')) await memory(sse);
  if (wanted('bundle')) await bundle();
} finally {
  rmSync(work, { recursive: true, force: true });
}

printRows(rows, 'http', started, values.json);
// Keep-alive sockets of fetch's pool would hold the process open for a few seconds.
process.exit(0);
