// The command line. Exit codes: 0 ok, 1 diagnostics or stale output, 2 usage. A user error is
// never a stack trace; an internal error says so and asks to be reported.

import { existsSync, mkdirSync, watch as fsWatch, writeFileSync, type FSWatcher } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { check, convert, ERROR_FORMATS, formatDiagnostics, generate, githubCommand, lint, planJobs, type ErrorFormat, type Plan } from './generator/api.ts';
import { checkBreaking } from './generator/breaking.ts';
import { CONFIG_FILE, starterConfig, type Job } from './generator/config.ts';
import { formatJson, hasErrors, type Diagnostic } from './generator/diagnostics.ts';
import type { GenerateResult } from './generator/generate.ts';
import { TRANSPORTS, type Transport } from './generator/ir/types.ts';
import { MockContractError, MockTransportError, MOCK_DEFAULTS, startMock } from './generator/mock.ts';
import { starterContract } from './generator/starter.ts';
import { badPackageName } from './generator/targets/sdk.ts';

export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly cwd: string;
}

const USAGE = `streamspec: typed streaming servers, clients and proto files from one contract.

Usage:
  streamspec generate [spec...] [--transport T] [--out DIR] [--sdk NAME] [--error-format F]
  streamspec check [spec...] [--breaking [--against REF]] [--error-format F]
  streamspec lint [spec] [--transport T] [--error-format F]
  streamspec watch [spec] [--transport T] [--out DIR]
  streamspec mock <spec> [--transport sse|ndjson|websocket|grpc] [--port P] [--count N] [--interval MS] [--conformance-control]
  streamspec convert <asyncapi> [--out FILE] [--assume-defaults] [--error-format F]
  streamspec init [FILE]
  streamspec <command> --help

With no spec, generate, check, lint and watch run over every contract in ${CONFIG_FILE} when
it exists (check falls back to spec/*.yaml).
Transports: ${TRANSPORTS.join(', ')}.
Error formats (F): ${ERROR_FORMATS.join(', ')}.
A spec may be an AsyncAPI 3.0 or 2.x document; with --assume-defaults (generate, check, lint,
watch, mock, convert), what its x-streamspec extensions leave out takes the documented defaults.
Exit codes: 0 ok, 1 diagnostics or stale output, 2 usage.
`;

const HELP: Record<string, string> = {
  generate: `Usage: streamspec generate [spec...] [--transport T] [--out DIR] [--sdk NAME] [--error-format F]

Checks each contract and writes its generated files to DIR (default generated/<spec name>/):
types.ts, validate.ts, runtime/, proto/ with buf.yaml, proto.lock.json and a manifest.
Writes are atomic: on any error the previous output stays as it was. Files streamspec did not
write are never overwritten or deleted. With no spec, generates every contract of
${CONFIG_FILE}, each for its transports into its out folder.

Options:
  --transport T       sse | ndjson | websocket | grpc (default: the contract's own transport)
  --out DIR           output folder (only with one spec)
  --sdk NAME          instead, write a publishable npm package NAME around the client (sse,
                      ndjson): package.json, tsconfig.json, README.md, src/ (default folder
                      generated/<spec name>-sdk/; build it with npm run build)
  --error-format F    diagnostics as text (default, on stderr), json or github-actions (on stdout)
`,
  check: `Usage: streamspec check [spec...] [--breaking [--against REF]] [--error-format F]

Regenerates every contract (default: those of ${CONFIG_FILE}, else spec/*.yaml) in memory and
lists output files that are stale, missing or no longer generated, and SDKs (sdk in
${CONFIG_FILE}) whose contract changed without an info.version bump. Exit 1 when anything is
stale. Nothing is written. --error-format github-actions also annotates each stale file.
--breaking also runs buf breaking of the proto each contract makes now against the proto in its
output folder (what clients were built from): additive edits pass, removals and renumbering fail.
--against REF compares with the proto committed at a git ref instead (a release tag, main), so CI
catches a break even after the output was regenerated.
`,
  lint: `Usage: streamspec lint [spec] [--transport T] [--error-format text|json|github-actions]

Checks a contract (default: every contract of ${CONFIG_FILE}) and prints its diagnostics:
file:line:col, severity, code, what is wrong and what to do. json prints an array of
{code, severity, message, file, line, col}; github-actions prints ::error/::warning workflow
commands GitHub shows on the diff. --format is another name for --error-format.
`,
  watch: `Usage: streamspec watch [spec] [--transport T] [--out DIR]

Generates, then regenerates whenever the contract or a file it $refs is saved. With no spec,
watches every contract of ${CONFIG_FILE} and regenerates only those whose files changed (all of
them when ${CONFIG_FILE} itself changes). Each run prints its time. Diagnostics are printed and
watching goes on after a bad edit. Stop with Ctrl-C.
`,
  mock: `Usage: streamspec mock <spec> [--transport sse|ndjson|websocket|grpc] [--port P] [--count N] [--interval MS] [--conformance-control]

Serves every stream of a contract on 127.0.0.1 with schema-valid example messages (from the
schemas' examples and defaults, else made to fit), cycling through the message types, then the
terminal message. Deterministic: the same URL gives the same messages, so a resumed stream
continues exactly where it left off. Resume, heartbeats and backpressure behave as in the
generated server. The first line on stdout is "listening on http://127.0.0.1:PORT", then one
line per stream. Over grpc every rpc is served on that one port (Connect and gRPC-web over
HTTP/1.1, gRPC over h2c), listed as "RPC /<package>.<Service>/<Rpc>"; client messages are
validated (an invalid one ends the call with INVALID_ARGUMENT, or is answered in-band when the
contract's errors are in-band). Stop with Ctrl-C.

Options:
  --transport T  sse | ndjson | websocket | grpc (default: the contract's own transport)
  --port P       port to listen on; 0 picks a free one (default ${MOCK_DEFAULTS.port})
  --count N      messages per stream before the terminal message (default ${MOCK_DEFAULTS.count})
  --interval MS  pause between messages in ms (default ${MOCK_DEFAULTS.interval}); a sampled stream waits at least its interval
  --conformance-control
                 serve the conformance control endpoint (sse, ndjson), so the generated conformance
                 suites can check backpressure and abandoned consumers too
`,
  convert: `Usage: streamspec convert <asyncapi> [--out FILE] [--assume-defaults] [--error-format F]

Writes the StreamSpec contract an AsyncAPI 3.0 or 2.x document maps onto, to FILE or stdout,
so a team can move over: the same contract generate builds from the AsyncAPI document, so it
lints clean and generates the same code. Nothing is written when the document has errors.

Options:
  --out FILE          write the contract here instead of printing it (folders are created; an
                      existing file is never overwritten)
  --assume-defaults   where x-streamspec is silent, write the documented defaults (each reported
                      as a warning, SS410) instead of failing with one error per missing field
  --error-format F    diagnostics as text (default, on stderr), json or github-actions (on stdout)
`,
  init: `Usage: streamspec init [FILE]

Writes a starter contract to FILE (default spec/service.yaml), and a starter ${CONFIG_FILE}
naming it when there is none. Never overwrites a file.
`,
};

class UsageError extends Error {}

export async function main(argv: readonly string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    (command ? io.out : io.err)(USAGE);
    return command ? 0 : 2;
  }
  if (command === '--version') {
    io.out('streamspec 0.1.0\n');
    return 0;
  }
  if (!(command in HELP)) {
    io.err(`streamspec: unknown command "${command}". Run streamspec --help for the list.\n`);
    return 2;
  }
  let args: ReturnType<typeof parse>;
  try {
    args = parse(rest, command);
  } catch (e) {
    io.err(`streamspec ${command}: ${(e as Error).message}\n\n${HELP[command]}`);
    return 2;
  }
  if (args.values.help) {
    io.out(HELP[command]!);
    return 0;
  }
  try {
    switch (command) {
      case 'generate':
        return await runGenerate(args, io);
      case 'check':
        return await runCheck(args, io);
      case 'lint':
        return runLint(args, io);
      case 'watch':
        return await runWatch(args, io);
      case 'mock':
        return await runMock(args, io);
      case 'convert':
        return runConvert(args, io);
      case 'init':
        return runInit(args, io);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`streamspec ${command}: ${e.message}\n\n${HELP[command]}`);
      return 2;
    }
    throw e;
  }
  return 2;
}

// Mock's own options are known only to mock, so `generate --port 1` stays a usage error.
const MOCK_OPTIONS = {
  port: { type: 'string' },
  count: { type: 'string' },
  interval: { type: 'string' },
  'conformance-control': { type: 'boolean' },
} as const;

// Likewise --sdk belongs to generate alone, --breaking to check.
const GENERATE_OPTIONS = { sdk: { type: 'string' } } as const;
const CHECK_OPTIONS = { breaking: { type: 'boolean' }, against: { type: 'string' } } as const;

// For AsyncAPI input, in every command that reads a contract.
const ASSUME_OPTIONS = { 'assume-defaults': { type: 'boolean' } } as const;
const ASSUMING = new Set(['generate', 'check', 'lint', 'watch', 'mock', 'convert']);

function parse(argv: readonly string[], command?: string) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      transport: { type: 'string', short: 't' },
      out: { type: 'string', short: 'o' },
      ...(command === 'generate' ? GENERATE_OPTIONS : ({} as Partial<typeof GENERATE_OPTIONS>)),
      format: { type: 'string' },
      'error-format': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      ...(command === 'mock' ? MOCK_OPTIONS : ({} as Partial<typeof MOCK_OPTIONS>)),
      ...(command === 'check' ? CHECK_OPTIONS : ({} as Partial<typeof CHECK_OPTIONS>)),
      ...(command !== undefined && ASSUMING.has(command) ? ASSUME_OPTIONS : ({} as Partial<typeof ASSUME_OPTIONS>)),
    },
  });
}
type Args = ReturnType<typeof parse>;

function transportOf(args: Args): Transport | undefined {
  const t = args.values.transport;
  if (t === undefined) return undefined;
  if (!(TRANSPORTS as readonly string[]).includes(t)) throw new UsageError(`--transport "${t}" is not a transport. Use one of: ${TRANSPORTS.join(', ')}.`);
  return t as Transport;
}

/** --error-format, or its older name --format. */
function formatOf(args: Args): ErrorFormat {
  const option = args.values['error-format'] !== undefined ? 'error-format' : 'format';
  const f = args.values['error-format'] ?? args.values.format ?? 'text';
  if (!(ERROR_FORMATS as readonly string[]).includes(f)) throw new UsageError(`--${option} "${f}" is not a format. Use one of: ${ERROR_FORMATS.join(', ')}.`);
  return f as ErrorFormat;
}

/** Text goes to stderr with the human summaries; json and workflow commands to stdout, where tools read them. */
function printDiagnostics(io: Io, diagnostics: readonly Diagnostic[], sources: ReadonlyMap<string, string>, format: ErrorFormat): void {
  if (format === 'json') io.out(formatJson(diagnostics));
  else if (diagnostics.length) (format === 'text' ? io.err : io.out)(formatDiagnostics(diagnostics, sources, format));
}

/**
 * The contracts to run: those named, else the config's. A broken config prints its diagnostics
 * and gives undefined (exit 1). `fallback` says what happens with neither: spec/*.yaml (check)
 * or a usage error naming what to do.
 */
function plan(args: Args, io: Io, format: ErrorFormat, fallback: string | 'spec-folder'): Plan | undefined {
  const p = planJobs(io.cwd, args.positionals);
  if (p.source === 'spec-folder' && fallback !== 'spec-folder') throw new UsageError(fallback);
  if (p.source === 'config') {
    if (args.values.out !== undefined || args.values.transport !== undefined)
      throw new UsageError(`--transport and --out apply to a named contract; for the contracts of ${CONFIG_FILE}, set transports and out there.`);
    // In json mode the config's diagnostics join the one array printed at the end.
    if (format !== 'json') printDiagnostics(io, p.diagnostics, p.sources, format);
    if (hasErrors(p.diagnostics)) {
      if (format === 'json') io.out(formatJson(p.diagnostics));
      io.err(`${CONFIG_FILE}: ${summary(p.diagnostics)}; nothing was run.\n`);
      return undefined;
    }
  }
  return p;
}

function jobArgs(job: Job, args: Args): { transport?: Transport; out?: string; sdk?: { name: string }; assumeDefaults: boolean } {
  const transport = job.transport ?? transportOf(args);
  const out = job.out ?? args.values.out;
  const sdk = job.sdk ?? sdkOf(args);
  return { ...(transport ? { transport } : {}), ...(out !== undefined ? { out } : {}), ...(sdk ? { sdk } : {}), assumeDefaults: assuming(args) };
}

/** --assume-defaults (AsyncAPI input), for the commands that read a contract. */
const assuming = (args: Args): boolean => args.values['assume-defaults'] === true;

function sdkOf(args: Args): { name: string } | undefined {
  const name = args.values.sdk;
  if (typeof name !== 'string') return undefined;
  const bad = badPackageName(name);
  if (bad) throw new UsageError(`--sdk "${name}" is not an npm package name: ${bad}.`);
  return { name };
}

function summary(diagnostics: readonly Diagnostic[]): string {
  const e = diagnostics.filter((d) => d.severity === 'error').length;
  const w = diagnostics.length - e;
  return `${e} error${e === 1 ? '' : 's'}, ${w} warning${w === 1 ? '' : 's'}`;
}

async function runGenerate(args: Args, io: Io): Promise<number> {
  if (args.values.out !== undefined && args.positionals.length > 1) throw new UsageError('--out takes one contract; run generate once per contract to choose each folder.');
  if (args.values.sdk !== undefined && args.positionals.length !== 1) throw new UsageError('--sdk takes one contract; for the contracts of ' + CONFIG_FILE + ', set sdk there.');
  const format = formatOf(args);
  transportOf(args);
  sdkOf(args);
  const p = plan(args, io, format, `name at least one contract, for example: streamspec generate spec/assistant.yaml, or list them in ${CONFIG_FILE}.`);
  if (!p) return 1;
  let status = 0;
  const all: Diagnostic[] = [...p.diagnostics];
  // With json on stdout, the per-contract summaries move to stderr so stdout stays one document.
  const report = format === 'json' ? { ...io, out: io.err } : io;
  for (const job of p.jobs) {
    const result = await generate({ spec: job.spec, cwd: io.cwd, ...jobArgs(job, args) });
    all.push(...result.diagnostics);
    if (format !== 'json') printDiagnostics(io, result.diagnostics, result.sources, format);
    status = Math.max(status, reportGenerate(report, job.spec, result));
  }
  if (format === 'json') io.out(formatJson(all));
  return status;
}

function reportGenerate(io: Pick<Io, 'out' | 'err'>, spec: string, r: GenerateResult): number {
  if (hasErrors(r.diagnostics)) {
    io.err(`${spec}: not generated (${summary(r.diagnostics)}); the output folder was left as it was.\n`);
    return 1;
  }
  if (r.write && !r.write.ok) {
    io.err(`${spec}: not generated: ${r.write.error.message}\n`);
    return 1;
  }
  const w = r.write?.ok ? r.write : undefined;
  const counts = w ? `${w.written.length} written, ${w.unchanged.length} unchanged, ${w.removed.length} removed` : `${r.files.length} files`;
  io.out(`${spec} -> ${r.outDir}/ (${r.transport}): ${counts}\n`);
  if (r.sdkUnbumped) io.err(`warning: ${r.sdkUnbumped} before publishing it.\n`);
  return 0;
}

async function runCheck(args: Args, io: Io): Promise<number> {
  if (args.values.out !== undefined || args.values.transport !== undefined) throw new UsageError('check takes no --transport or --out; it checks each contract as generate wrote it.');
  if (args.values.against !== undefined && args.values.breaking !== true) throw new UsageError('--against goes with --breaking: streamspec check --breaking --against main.');
  const format = formatOf(args);
  const p = plan(args, io, format, 'spec-folder');
  if (!p) return 1;
  if (p.jobs.length === 0) throw new UsageError(`no contracts: name one, list them in ${CONFIG_FILE}, or put them in spec/.`);
  const r = await check({ cwd: io.cwd, specs: args.positionals, assumeDefaults: assuming(args) });
  const report = format === 'json' ? { ...io, out: io.err } : io;
  let status = 0;
  for (const c of r.contracts) {
    const { result, stale, missing, extra } = c;
    if (format !== 'json') printDiagnostics(io, result.diagnostics, result.sources, format);
    if (!result.ok) {
      io.err(`${c.spec}: cannot be generated (${summary(result.diagnostics)}).\n`);
      status = 1;
      continue;
    }
    if (c.sdkUnbumped) {
      status = 1;
      report.out(`${c.sdkUnbumped}.\n`);
      if (format === 'github-actions') io.out(githubCommand('error', { file: c.spec, title: 'streamspec check' }, `${c.sdkUnbumped}.`));
    }
    const problems = [...stale.map((f) => `stale    ${f}`), ...missing.map((f) => `missing  ${f}`), ...extra.map((f) => `extra    ${f}`)];
    const again = `streamspec generate${p.source === 'config' ? '' : ` ${c.spec}`}`;
    if (problems.length) {
      status = 1;
      report.out(`${c.spec}: ${result.outDir}/ is out of date; run ${again}\n${problems.map((x) => `  ${x}\n`).join('')}`);
      if (format === 'github-actions')
        for (const [kind, files] of [['stale', stale], ['missing', missing], ['extra', extra]] as const)
          for (const f of files) io.out(githubCommand('error', { file: `${result.outDir}/${f}`, title: 'streamspec check' }, `${f} is ${kind}: the output of ${c.spec} is out of date. Run ${again} and commit the result.`));
    } else report.out(`${c.spec}: ${result.outDir}/ is up to date\n`);
    if (args.values.breaking === true) status = Math.max(status, await reportBreaking(c.spec, result.outDir, args, io, report));
  }
  if (format === 'json') io.out(formatJson(r.diagnostics));
  return status;
}

/** `check --breaking`: buf breaking of the proto the contract makes now against the one in its output folder. */
async function reportBreaking(spec: string, outDir: string | undefined, args: Args, io: Io, report: Pick<Io, 'out'>): Promise<number> {
  const againstRef = typeof args.values.against === 'string' ? args.values.against : undefined;
  const b = await checkBreaking({ spec, cwd: io.cwd, assumeDefaults: assuming(args), ...(outDir !== undefined ? { out: outDir } : {}), ...(againstRef !== undefined ? { againstRef } : {}) });
  if (b.kind === 'failed') {
    io.err(`${spec}: cannot compare protos: ${b.message}\n`);
    return 1;
  }
  if (b.kind === 'no-baseline') {
    report.out(`${spec}: no generated proto in ${b.against}/ to compare with; nothing can break yet\n`);
    return 0;
  }
  if (b.ok) {
    report.out(`${spec}: proto has no breaking changes against ${b.against}/\n`);
    return 0;
  }
  // buf's positions are in the proto as generate writes it now.
  report.out(`${spec}: proto breaks clients built from ${b.against}/ (buf breaking; positions in the proto generate writes now):\n${b.problems.map((x) => `  ${x}\n`).join('')}`);
  return 1;
}

function runLint(args: Args, io: Io): number {
  if (args.positionals.length > 1) throw new UsageError('name exactly one contract, for example: streamspec lint spec/assistant.yaml.');
  const format = formatOf(args);
  transportOf(args);
  const p = plan(args, io, format, `name exactly one contract, for example: streamspec lint spec/assistant.yaml, or list them in ${CONFIG_FILE}.`);
  if (!p) return 1;
  const all: Diagnostic[] = [...p.diagnostics];
  let status = 0;
  for (const job of p.jobs) {
    const r = lint({ spec: job.spec, cwd: io.cwd, ...jobArgs(job, args) });
    all.push(...r.diagnostics);
    if (format !== 'json') printDiagnostics(io, r.diagnostics, r.sources, format);
    if (format === 'text') io.err(`${job.spec}${job.transport && p.source === 'config' ? ` (${job.transport})` : ''}: ${summary(r.diagnostics)}\n`);
    if (!r.ok) status = 1;
  }
  if (format === 'json') io.out(formatJson(all));
  return status;
}

async function runWatch(args: Args, io: Io): Promise<number> {
  if (args.positionals.length > 1) throw new UsageError('name exactly one contract to watch, or list them in streamspec.yaml and name none.');
  transportOf(args);
  const fromConfig = args.positionals.length === 0;
  const configFile = resolve(io.cwd, CONFIG_FILE);
  const watchers = new Map<string, FSWatcher>();
  /** What each job read on its last run (absolute paths): a change to one of them reruns it. */
  const inputs = new Map<Job, Set<string>>();
  let jobs: readonly Job[] = [];
  const changed = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running = Promise.resolve();

  /** (Re)reads the job list: the named contract, or the config's contracts. */
  const replan = (first: boolean): void => {
    inputs.clear();
    try {
      jobs = plan(args, io, 'text', `name a contract to watch, for example: streamspec watch spec/assistant.yaml, or list them in ${CONFIG_FILE}.`)?.jobs ?? [];
    } catch (e) {
      // At start this is a usage error; later (the config was deleted) watching goes on.
      if (first || !(e instanceof UsageError)) throw e;
      io.err(`watch: ${e.message}\n`);
      jobs = [];
    }
  };

  const once = async (all: boolean) => {
    const started = performance.now();
    if (fromConfig && (all || changed.has(configFile))) {
      replan(all);
      all = true;
    }
    const due = jobs.filter((j) => all || [...(inputs.get(j) ?? [])].some((f) => changed.has(f)));
    const touched = [...changed];
    changed.clear();
    for (const job of due) {
      const r = await generate({ spec: job.spec, cwd: io.cwd, ...jobArgs(job, args) });
      printDiagnostics(io, r.diagnostics, r.sources, 'text');
      reportGenerate(io, job.spec, r);
      inputs.set(job, new Set((r.inputs.length ? r.inputs : [job.spec]).map((f) => resolve(io.cwd, f))));
    }
    const what = fromConfig ? `${due.length} of ${jobs.length} generated` : 'done';
    io.out(`watch: ${what} in ${Math.round(performance.now() - started)} ms; waiting for changes\n`);
    // Watch what the contracts read now: a new $ref'd file joins, a dropped one leaves; a changed
    // file is watched afresh, as editors that save by replacing leave the old watcher on a dead inode.
    const want = new Set([...inputs.values()].flatMap((s) => [...s]));
    if (fromConfig) want.add(configFile);
    for (const [f, w] of watchers) if (!want.has(f) || touched.includes(f)) (w.close(), watchers.delete(f));
    for (const f of want) if (!watchers.has(f) && existsSync(f)) watchers.set(f, fsWatch(f, () => schedule(f)));
  };
  // Editors save in bursts: coalesce, then run one at a time.
  function schedule(file: string) {
    changed.add(file);
    clearTimeout(timer);
    timer = setTimeout(() => {
      running = running.then(() => once(false));
    }, 100);
  }
  if (!fromConfig) replan(true);
  running = running.then(() => once(true));
  await running;
  await new Promise<void>((done) => {
    const stop = () => {
      for (const w of watchers.values()) w.close();
      clearTimeout(timer);
      done();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}

/** A whole number in [min, max] from an option, or a usage error naming the option. */
function wholeNumber(value: string | undefined, option: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw new UsageError(`--${option} "${value}" is not a whole number from ${min} to ${max}.`);
  return n;
}

async function runMock(args: Args, io: Io): Promise<number> {
  const [spec, ...more] = args.positionals;
  if (!spec || more.length) throw new UsageError('name exactly one contract, for example: streamspec mock spec/assistant.yaml.');
  const transport = transportOf(args);
  const opt = (k: keyof typeof MOCK_OPTIONS) => (typeof args.values[k] === 'string' ? args.values[k] : undefined);
  const port = wholeNumber(opt('port'), 'port', 0, 65535, MOCK_DEFAULTS.port);
  const count = wholeNumber(opt('count'), 'count', 0, 1_000_000, MOCK_DEFAULTS.count);
  const interval = wholeNumber(opt('interval'), 'interval', 0, 3_600_000, MOCK_DEFAULTS.interval);
  let mock: Awaited<ReturnType<typeof startMock>>;
  try {
    mock = await startMock({ spec, cwd: io.cwd, port, count, interval, conformanceControl: args.values['conformance-control'] === true, assumeDefaults: assuming(args), ...(transport ? { transport } : {}) });
  } catch (e) {
    if (e instanceof MockTransportError) throw new UsageError(`${e.message}.`);
    if (e instanceof MockContractError) {
      printDiagnostics(io, e.diagnostics, e.sources, 'text');
      io.err(`${spec}: ${summary(e.diagnostics)}; nothing is served.\n`);
      return 1;
    }
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE' || (e as NodeJS.ErrnoException).code === 'EACCES') {
      io.err(`streamspec mock: cannot listen on 127.0.0.1:${port} (${(e as NodeJS.ErrnoException).code}). Choose another --port, or --port 0 for a free one.\n`);
      return 1;
    }
    throw e;
  }
  // The first stdout line is what scripts wait for; warnings go to stderr.
  io.out(`listening on ${mock.url}\n`);
  for (const r of mock.routes) io.out(`${r.method} ${r.path} (${r.stream})\n`);
  printDiagnostics(io, mock.diagnostics, mock.sources, 'text');
  for (const p of mock.problems) io.err(`mock: warning: ${p}\n`);
  await new Promise<void>((done) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      done();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await mock.close();
  return 0;
}

function runConvert(args: Args, io: Io): number {
  const [spec, ...more] = args.positionals;
  if (!spec || more.length) throw new UsageError('name exactly one AsyncAPI document, for example: streamspec convert asyncapi.yaml --out spec/service.yaml.');
  if (args.values.transport !== undefined) throw new UsageError('convert takes no --transport; set x-streamspec.transport at the AsyncAPI document root.');
  const format = formatOf(args);
  const out = args.values.out;
  const r = convert({ spec, cwd: io.cwd, ...(out !== undefined ? { out } : {}), assumeDefaults: assuming(args) });
  // JSON diagnostics and a contract on stdout would make neither readable; the contract keeps stdout.
  printDiagnostics(format === 'json' && out === undefined ? { ...io, out: io.err } : io, r.diagnostics, r.sources, format);
  if (!r.asyncapi && r.ok === false && !hasErrors(r.diagnostics)) {
    io.err(`${spec} is a StreamSpec contract already (it has no asyncapi field); there is nothing to convert.\n`);
    return 1;
  }
  if (!r.text) {
    const hint = r.diagnostics.some((d) => ['SS406', 'SS407', 'SS408'].includes(d.code)) ? ' Add the x-streamspec fields named above, or run with --assume-defaults.' : '';
    io.err(`${spec}: not converted (${summary(r.diagnostics)}).${hint}\n`);
    return 1;
  }
  if (out === undefined) {
    io.out(r.text);
    return 0;
  }
  const abs = resolve(io.cwd, out);
  mkdirSync(dirname(abs), { recursive: true });
  // Like init: a hand-written contract (or the AsyncAPI document itself) is never overwritten.
  try {
    writeFileSync(abs, r.text, { flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    io.err(`${out} exists; convert never overwrites a file. Choose another --out, or move that file away first.\n`);
    return 1;
  }
  io.err(`${spec} -> ${out}; next: streamspec generate ${out}\n`);
  return 0;
}

function runInit(args: Args, io: Io): number {
  const [file = 'spec/service.yaml', ...more] = args.positionals;
  if (more.length) throw new UsageError('init takes at most one file name.');
  const abs = resolve(io.cwd, file);
  if (existsSync(abs)) {
    io.err(`streamspec init: ${file} already exists; nothing was written. Name another file: streamspec init spec/other.yaml.\n`);
    return 1;
  }
  mkdirSync(dirname(abs), { recursive: true });
  const schema = fileURLToPath(new URL('./spec/streamspec.schema.json', import.meta.url));
  writeFileSync(abs, starterContract(relative(dirname(abs), schema).split('\\').join('/')), { flag: 'wx' });
  io.out(`wrote ${file}; next: streamspec generate ${file}\n`);
  // The config names the contract so a bare `streamspec generate` works; an existing one is the user's.
  const config = join(io.cwd, CONFIG_FILE);
  if (!existsSync(config)) {
    const configSchema = fileURLToPath(new URL('./spec/streamspec-config.schema.json', import.meta.url));
    const spec = relative(io.cwd, abs).split('\\').join('/');
    writeFileSync(config, starterConfig(spec, relative(io.cwd, configSchema).split('\\').join('/')), { flag: 'wx' });
    io.out(`wrote ${CONFIG_FILE}, naming ${spec}; streamspec generate with no contract uses it\n`);
  }
  return 0;
}
