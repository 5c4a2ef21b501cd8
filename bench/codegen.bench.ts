// `npm run bench`: code-generation time for synthetic contracts of 10, 100 and 1000 streams, split
// by stage, with peak memory; regeneration after a one-stream edit; and `buf generate` with
// protoc-gen-es on the proto we emit, as the yardstick. `--json` prints the rows as JSON on
// stdout (the target lines then go to stderr). `--sizes 10,100` runs a subset.
//
// Every case runs in its own child process (bench/codegen-child.ts) so peak RSS is per case.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ChildResult, RunSample } from './codegen-child.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Measured runs per case: medians where they are cheap, one run where a run takes a minute. */
const RUNS: Record<string, number> = { full: 3, regen: 3 };
const RUNS_LARGE = 1;
const LARGE = 1000;
/** buf runs stop early once they have used this much time (protoc-gen-es is slow on big files). */
const BUF_BUDGET_MS = 20_000;
const BUF_RUNS = 3;
/** The scaling target: 1000 streams in at most this many times the 100-stream time. */
const SCALE_LIMIT = 11;

export interface Row {
  readonly case: string;
  readonly streams: number;
  readonly runs: number;
  readonly loadCheckMs: number | null;
  readonly renderMs: number | null;
  readonly formatMs: number | null;
  readonly writeMs: number | null;
  readonly totalMs: number;
  readonly peakRssMiB: number | null;
  readonly heapDeltaMiB: number | null;
  /** TS files prettier ran on, of those it could have run on (median run). */
  readonly formattedFiles: string | null;
}

const { values } = parseArgs({ options: { json: { type: 'boolean', default: false }, sizes: { type: 'string', default: '10,100,1000' } } });
const sizes = values.sizes
  .split(',')
  .map(Number)
  .filter((n) => Number.isInteger(n) && n > 0);
const log = (line: string) => process.stderr.write(`${line}\n`);

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function child(kind: 'full' | 'regen', streams: number, work: string): ChildResult {
  const runs = streams >= LARGE ? RUNS_LARGE : RUNS[kind]!;
  log(`bench: ${kind} ${streams} streams, ${runs} run(s)...`);
  const r = spawnSync(
    process.execPath,
    ['--expose-gc', join(ROOT, 'bin/run-ts.js'), join(ROOT, 'bench/codegen-child.ts'), '--case', kind, '--streams', String(streams), '--runs', String(runs), '--work', work],
    { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 },
  );
  if (r.status !== 0) throw new Error(`bench child (${kind} ${streams}) exited with ${r.status ?? r.signal}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as ChildResult;
}

/** The median run by total time, so the stage columns add up to the total shown. */
function rowOf(c: ChildResult): Row {
  const byTotal = [...c.samples].sort((a, b) => a.total - b.total);
  const mid: RunSample = byTotal[(byTotal.length - 1) >> 1]!;
  return {
    case: c.case === 'full' ? 'generate' : 'regen after 1-stream edit',
    streams: c.streams,
    runs: c.samples.length,
    loadCheckMs: mid.lint,
    renderMs: mid.render,
    formatMs: mid.format,
    writeMs: mid.write,
    totalMs: mid.total,
    peakRssMiB: c.maxRssKiB / 1024,
    heapDeltaMiB: median(c.samples.map((s) => s.heapDelta)) / (1 << 20),
    formattedFiles: `${mid.formatted}/${mid.formattable}`,
  };
}

/** The buf binary itself when its platform package is installed: the npm shim adds a node start. */
function bufBinary(): string {
  const arch = process.arch === 'arm64' && process.platform === 'linux' ? 'aarch64' : process.arch;
  const native = join(ROOT, 'node_modules/@bufbuild', `buf-${process.platform}-${arch}`, 'bin', process.platform === 'win32' ? 'buf.exe' : 'buf');
  return existsSync(native) ? native : join(ROOT, 'node_modules/.bin/buf');
}

/** `buf generate` with the local protoc-gen-es on a proto folder, timed as a whole process. */
function bufGenerate(protoDir: string, streams: number, work: string): Row {
  const dir = join(work, `buf-${streams}`);
  const plugin = join(ROOT, 'node_modules/.bin/protoc-gen-es');
  rmSync(dir, { recursive: true, force: true });
  const template = join(work, `buf-${streams}.gen.yaml`);
  writeFileSync(template, ['version: v2', 'plugins:', `  - local: ${JSON.stringify(plugin)}`, `    out: ${JSON.stringify(dir)}`, '    opt: target=ts', ''].join('\n'));
  // GNU time gives the peak RSS of buf and the plugin it waits for; without it, no RSS column.
  const timeBin = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
  const rssFile = join(work, `buf-${streams}.rss`);
  const cmd = [bufBinary(), 'generate', protoDir, '--template', template];
  const totals: number[] = [];
  let rss: number | null = null;
  log(`bench: buf generate on the ${streams}-stream proto, up to ${BUF_RUNS} run(s)...`);
  while (totals.length < BUF_RUNS && (totals.length === 0 || totals.reduce((a, b) => a + b, 0) < BUF_BUDGET_MS)) {
    const argv = timeBin ? [timeBin, '-f', '%M', '-o', rssFile, ...cmd] : cmd;
    const t0 = performance.now();
    const r = spawnSync(argv[0]!, argv.slice(1), { cwd: work, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
    totals.push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`buf generate failed (${r.status ?? r.signal}): ${r.stderr}`);
    if (timeBin) rss = Math.max(rss ?? 0, Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop()) / 1024);
  }
  return {
    case: 'buf generate + protoc-gen-es',
    streams,
    runs: totals.length,
    loadCheckMs: null,
    renderMs: null,
    formatMs: null,
    writeMs: null,
    totalMs: median(totals),
    peakRssMiB: rss,
    heapDeltaMiB: null,
    formattedFiles: null,
  };
}

function table(rows: readonly Row[]): string {
  const head = ['case', 'streams', 'runs', 'load+check ms', 'render ms', 'format ms', 'write ms', 'total ms', 'peak RSS MiB', 'heap Δ MiB', 'formatted'];
  const ms = (n: number | null) => (n === null ? '-' : String(Math.round(n)));
  const mib = (n: number | null) => (n === null ? '-' : n.toFixed(1));
  const body = rows.map((r) => [
    r.case,
    String(r.streams),
    String(r.runs),
    ms(r.loadCheckMs),
    ms(r.renderMs),
    ms(r.formatMs),
    ms(r.writeMs),
    ms(r.totalMs),
    mib(r.peakRssMiB),
    mib(r.heapDeltaMiB),
    r.formattedFiles ?? '-',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

function verdict(label: string, ratio: number, limit: number, detail: string): string {
  return `${ratio <= limit ? 'PASS' : 'FAIL'}  ${label}: ${detail} = ${ratio.toFixed(2)}x (target <= ${limit}x)`;
}

const work = mkdtempSync(join(tmpdir(), 'streamspec-bench-'));
const rows: Row[] = [];
const targets: string[] = [];
try {
  const full = new Map<number, ChildResult>();
  for (const n of sizes) {
    const c = child('full', n, work);
    full.set(n, c);
    rows.push(rowOf(c));
  }
  for (const n of sizes.filter((n) => n >= 100)) rows.push(rowOf(child('regen', n, work)));

  const f100 = full.get(100);
  if (f100) {
    const protoDir = join(f100.outDir, 'proto');
    const buf = bufGenerate(protoDir, 100, work);
    rows.push(buf);
    const ours = rowOf(f100).totalMs;
    targets.push(verdict('100 streams, all artifacts, vs buf generate', ours / buf.totalMs, 1, `${Math.round(ours)} ms / ${Math.round(buf.totalMs)} ms`));
  }
  const f1000 = full.get(1000);
  if (f100 && f1000) {
    const a = rowOf(f1000).totalMs;
    const b = rowOf(f100).totalMs;
    targets.push(verdict('1000 streams vs 100 streams', a / b, SCALE_LIMIT, `${Math.round(a)} ms / ${Math.round(b)} ms`));
  }
  for (const r of rows.filter((r) => r.case.startsWith('regen'))) {
    const base = rows.find((g) => g.case === 'generate' && g.streams === r.streams)!;
    targets.push(
      `info  regen after editing one summary, ${r.streams} streams: ${Math.round(r.totalMs)} ms vs ${Math.round(base.totalMs)} ms from scratch; prettier ran on ${r.formattedFiles} TS files`,
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

if (values.json) {
  process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  for (const t of targets) log(t);
} else {
  process.stdout.write(`${table(rows)}\n\n${targets.join('\n')}\n`);
}
