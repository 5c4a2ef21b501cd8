// One benchmark case in its own process, so its peak RSS is its own and earlier (larger) cases
// leave no heap or JIT state behind. Run by codegen.bench.ts:
//   node --expose-gc bin/run-ts.js bench/codegen-child.ts --case full --streams 100 --runs 3 --work DIR
//   node --expose-gc bin/run-ts.js bench/codegen-child.ts --case regen --streams 100 --runs 3 --work DIR
// Prints one JSON object (a ChildResult) on stdout; progress and failures go to stderr.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatText } from '../generator/diagnostics.ts';
import { forgetFormattedPieces, generate, type GenerateResult } from '../generator/generate.ts';
import { readManifest } from '../generator/write/manifest.ts';
import { editSummary, syntheticContract } from './synthetic.ts';

export interface RunSample {
  readonly lint: number;
  readonly render: number;
  readonly format: number;
  readonly write: number;
  readonly total: number;
  /** heapUsed right after generate() minus heapUsed after a GC just before it, in bytes. */
  readonly heapDelta: number;
  /** TS files that went through prettier (not reused from the manifest's sourceHash). */
  readonly formatted: number;
  /** TS files that could have gone through prettier. */
  readonly formattable: number;
}

export interface ChildResult {
  readonly case: 'full' | 'regen';
  readonly streams: number;
  readonly samples: readonly RunSample[];
  /** process.resourceUsage().maxRSS, in KiB. */
  readonly maxRssKiB: number;
  /** Where the contract and the last output live (full), for the regen and buf cases. */
  readonly spec: string;
  readonly outDir: string;
  readonly bytes: Readonly<Record<string, number>>;
}

const { values } = parseArgs({
  options: {
    case: { type: 'string' },
    streams: { type: 'string' },
    runs: { type: 'string', default: '1' },
    work: { type: 'string' },
  },
});
const kind = values.case;
const streams = Number(values.streams);
const runs = Number(values.runs);
const work = values.work;
if ((kind !== 'full' && kind !== 'regen') || !(streams > 0) || !(runs > 0) || !work) {
  throw new Error('usage: codegen-child.ts --case full|regen --streams N --runs R --work DIR');
}

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

async function run(spec: string, out: string): Promise<{ result: GenerateResult; sample: RunSample }> {
  // What the manifest already covers decides which files skip prettier; count them for the report.
  const before = readManifest(out);
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  // Each run stands for a fresh `streamspec generate` process: only what is on disk may be reused.
  forgetFormattedPieces();
  const t0 = performance.now();
  const result = await generate({ spec, out, transport: 'websocket' });
  const total = performance.now() - t0;
  const heapDelta = process.memoryUsage().heapUsed - heap0;
  if (!result.ok) {
    const errors = result.diagnostics.filter((d) => d.severity === 'error');
    process.stderr.write(formatText(errors.slice(0, 10), result.sources));
    if (result.write && !result.write.ok) process.stderr.write(`${JSON.stringify(result.write)}\n`);
    throw new Error(`generate failed for ${spec}`);
  }
  // A file counts as formatted when any of its pieces was not reused from the previous output.
  const ts = result.files.filter((f) => f.chunks !== undefined);
  const known = new Set(Object.values(before?.files ?? {}).flatMap((e) => (e.chunks ?? '').split(',').map((c) => c.split(':')[0])));
  const reused = ts.filter((f) => f.chunks!.split(',').every((c) => known.has(c.split(':')[0]))).length;
  const { lint, render, format, write } = result.timings;
  return { result, sample: { lint, render, format, write, total, heapDelta, formatted: ts.length - reused, formattable: ts.length } };
}

// Warm-up on a small contract: module loading, prettier's plugins and template compilation are
// paid once per process, not by whichever case happens to run first.
{
  const dir = join(work, `warmup-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'contract.yaml'), syntheticContract(10, 99));
  await run(join(dir, 'contract.yaml'), join(dir, 'out'));
  rmSync(dir, { recursive: true, force: true });
}

const caseDir = join(work, `full-${streams}`);
const spec = join(caseDir, 'contract.yaml');
const samples: RunSample[] = [];
let last: GenerateResult | undefined;
let outDir = '';

if (kind === 'full') {
  mkdirSync(caseDir, { recursive: true });
  writeFileSync(spec, syntheticContract(streams));
  outDir = join(caseDir, 'out');
  for (let r = 0; r < runs; r++) {
    // A fresh folder each run: nothing to reuse, every file is rendered and formatted. The last
    // run's output stays for the regen and buf cases.
    rmSync(outDir, { recursive: true, force: true });
    const { result, sample } = await run(spec, outDir);
    samples.push(sample);
    last = result;
  }
} else {
  // Regenerate into the folder the full case left, as `streamspec generate` does after an edit:
  // a new process, the previous output and manifest on disk, one stream's summary changed.
  outDir = join(caseDir, 'out');
  const base = readFileSync(spec, 'utf8');
  const target = Math.floor(streams / 2);
  for (let r = 0; r < runs; r++) {
    writeFileSync(spec, editSummary(base, target, `Edited synthetic stream ${target}, pass ${r + 1}.`));
    const { result, sample } = await run(spec, outDir);
    samples.push(sample);
    last = result;
  }
}

const bytes = Object.fromEntries((last?.files ?? []).map((f) => [f.path, Buffer.byteLength(f.content)]));
const out: ChildResult = { case: kind, streams, samples, maxRssKiB: process.resourceUsage().maxRSS, spec, outDir, bytes };
process.stdout.write(`${JSON.stringify(out)}\n`);
