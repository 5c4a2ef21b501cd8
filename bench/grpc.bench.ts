// The gRPC server-streaming path (`node bin/run-ts.js bench/grpc.bench.ts`), all on 127.0.0.1.
//
// - throughput: messages/s of the generated server (test/fixtures/grpc/market.yaml `quotes`,
//   pull, output validation on as shipped, resume retention on) against a hand-written
//   connect-node handler that yields the same QuotesResponse messages, both on the generated
//   createH2cServer (gRPC over h2c), both read by the same plain Connect client (it counts the
//   `quote` events), in one process, alternating. The ratio is the median of the ratios of
//   adjacent runs (a busy machine slows both of a pair alike); it is also given per CPU second
//   (server and client share the process), which other load disturbs less. Target: >= 95 %.
//   Two generated rows: the contract as it is (resume retention 1000 messages: every response is
//   also kept for a resume) and the same stream with `resume: none`, which like the hand-written
//   handler keeps nothing. Both carry the target; the gap between them is the price of resume.
//
// `--json` prints the rows as JSON on stdout (the verdict lines then go to stderr).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { create } from '@bufbuild/protobuf';
import { createClient, type ConnectRouter } from '@connectrpc/connect';
import { connectNodeAdapter, createGrpcTransport } from '@connectrpc/connect-node';
import { within } from '../test/http-harness.ts';
import { median, printRows, type Row } from './rows.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { json: { type: 'boolean', default: false } } });
const log = (line: string) => process.stderr.write(`${line}\n`);

const MESSAGES = 50_000; // per run
const RUNS = 7;
const RUN_TIMEOUT_MS = 30_000;
const TARGET_RATIO = 0.95;
const VENUES = [['XNAS', 'XNYS'], ['BATS']];

const rows: Row[] = [];


type Any = any;

async function listen(server: Server): Promise<{ base: string; close(): Promise<void> }> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

interface Run {
  /** Messages per wall-clock second. */
  readonly wall: number;
  /** Messages per CPU second of this process (server and client). */
  readonly cpu: number;
}

/** One call read to its end by a plain Connect client, counting `quote` events. */
async function run(pb: Any, base: string): Promise<Run> {
  const client = createClient(pb.MarketService, createGrpcTransport({ baseUrl: base })) as Any;
  const t = performance.now();
  const c0 = process.cpuUsage();
  let n = 0;
  for await (const res of client.quotes({ symbol: 'BENCH', count: MESSAGES })) if (res.event.case === 'quote') n++;
  const c = process.cpuUsage(c0);
  if (n !== MESSAGES) throw new Error(`${n} of ${MESSAGES} messages`);
  return { wall: (n / (performance.now() - t)) * 1000, cpu: n / ((c.user + c.system) / 1e6) };
}

const started = performance.now();
const work = mkdtempSync(join(tmpdir(), 'streamspec-grpc-bench-'));
try {
  // Outside the repo nothing says the .ts files are ES modules, and nothing resolves the npm packages.
  writeFileSync(join(work, 'package.json'), '{ "type": "module" }\n');
  spawnSync('ln', ['-s', join(ROOT, 'node_modules'), join(work, 'node_modules')]);
  const generate = async (spec: string, out: string): Promise<Any> => {
    const gen = spawnSync(process.execPath, [join(ROOT, 'bin', 'streamspec.js'), 'generate', spec, '--out', out], { cwd: ROOT, encoding: 'utf8' });
    if (gen.status !== 0) throw new Error(`streamspec generate ${spec} failed:\n${gen.stderr}`);
    return import(pathToFileURL(join(out, 'server.ts')).href);
  };
  const server: Any = await generate('test/fixtures/grpc/market.yaml', join(work, 'market'));
  const pb: Any = await import(pathToFileURL(join(work, 'market', 'proto/market/v1/market_pb.ts')).href);
  // The same contract with `quotes` not resumable, which like the hand-written handler keeps nothing.
  const spec = readFileSync(join(ROOT, 'test/fixtures/grpc/market.yaml'), 'utf8');
  const noResume = spec.replace(/\n    resume:\n      strategy: token\n      retention: \{[^}]*\}\n/, '\n    resume: { strategy: none }\n');
  if (noResume === spec) throw new Error('market.yaml: the quotes stream\'s resume block was not found');
  writeFileSync(join(work, 'no-resume.yaml'), noResume);
  const serverNoResume: Any = await generate(join(work, 'no-resume.yaml'), join(work, 'no-resume'));

  // The generated side: the handler shape users write, contract JSON in.
  const handlers = {
    async *quotes({ request }: Any) {
      for (let i = 0; i < request.count; i++) yield { type: 'quote', data: { price: 100.25 + i, side: 'buy', at: 1_700_000_000_000 + i, venues: VENUES } };
      return { type: 'end', data: { sent: request.count } };
    },
    async *orders() {
      return { type: 'receipt', data: { accepted: 0, total: 0 } };
    },
    async *desk() {
      return { type: 'closed' };
    },
  };
  // The hand-written side: connect-node with the protoc-gen-es types, the same messages and seq.
  const handWritten = connectNodeAdapter({
    routes(router: ConnectRouter) {
      router.service(pb.MarketService, {
        async *quotes(req: Any) {
          const venues = VENUES.map((values) => ({ values }));
          for (let i = 0; i < req.count; i++)
            yield create(pb.QuotesResponseSchema, { seq: BigInt(i + 1), event: { case: 'quote', value: { price: 100.25 + i, side: pb.Side.BUY, at: BigInt(1_700_000_000_000 + i), venues } } });
          yield create(pb.QuotesResponseSchema, { seq: BigInt(req.count + 1), event: { case: 'end', value: { sent: BigInt(req.count) } } });
        },
      } as Any);
    },
  });
  const theirs = await listen(server.createH2cServer(handWritten));
  try {
    for (const [module, variant] of [[server, undefined], [serverNoResume, 'resume: none']] as const) {
      const generated = module.createRouter(handlers, { onError: () => {} });
      const ours = await listen(module.createH2cServer(generated.node));
      const a: Run[] = [];
      const b: Run[] = [];
      try {
        log(`bench: grpc throughput${variant ? ` (${variant})` : ''}, ${RUNS} x ${MESSAGES} messages each side...`);
        await within(run(pb, ours.base), RUN_TIMEOUT_MS, 'warm-up'); // JIT warm-up, not counted
        await within(run(pb, theirs.base), RUN_TIMEOUT_MS, 'warm-up');
        for (let i = 0; i < RUNS; i++) {
          a.push(await within(run(pb, ours.base), RUN_TIMEOUT_MS, 'generated run'));
          b.push(await within(run(pb, theirs.base), RUN_TIMEOUT_MS, 'hand-written run'));
        }
      } finally {
        generated.close();
        await ours.close();
      }
      const name = variant ? `generated (${variant})` : 'generated';
      const wall = (rs: readonly Run[]) => rs.map((r) => Math.round(r.wall));
      const ratio = median(a.map((r, i) => r.wall / b[i]!.wall));
      const cpuRatio = median(a.map((r) => r.cpu)) / median(b.map((r) => r.cpu));
      const pct = (x: number) => Math.round(x * 1000) / 10;
      rows.push({ case: `throughput, ${name}`, transport: 'grpc', value: Math.round(median(a.map((r) => r.wall))), unit: 'msg/s', target: null, pass: null, note: `median of ${RUNS}; runs ${wall(a).join(', ')}` });
      rows.push({ case: 'throughput, hand-written connect-node', transport: 'grpc', value: Math.round(median(b.map((r) => r.wall))), unit: 'msg/s', target: null, pass: null, note: `median of ${RUNS}; runs ${wall(b).join(', ')}` });
      rows.push({
        case: `throughput, ${name} / hand-written`,
        transport: 'grpc',
        value: pct(ratio),
        unit: '%',
        target: `>= ${TARGET_RATIO * 100} %`,
        pass: ratio >= TARGET_RATIO,
        note: `median of adjacent-run ratios; same client (Connect, gRPC over h2c)${variant ? '' : '; every message also kept for resume (retention 1000)'}`,
      });
      rows.push({ case: `messages per CPU second, ${name} / hand-written`, transport: 'grpc', value: pct(cpuRatio), unit: '%', target: null, pass: null, note: `${Math.round(median(a.map((r) => r.cpu)))} vs ${Math.round(median(b.map((r) => r.cpu)))} msg per CPU s, server and client together` });
    }
  } finally {
    await theirs.close();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

printRows(rows, 'grpc', started, values.json);
// HTTP/2 sessions of the client transports would hold the process open for a while.
process.exit(0);
