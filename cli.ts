// The command line. Exit codes: 0 ok, 1 diagnostics or stale output, 2 usage. A user error is
// never a stack trace; an internal error says so and asks to be reported.

import { existsSync, mkdirSync, readdirSync, watch as fsWatch, writeFileSync, type FSWatcher } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatJson, formatText, hasErrors, type Diagnostic } from './generator/diagnostics.ts';
import { checkStale, generate, type GenerateResult } from './generator/generate.ts';
import { TRANSPORTS, type Transport } from './generator/ir/types.ts';
import { MockContractError, MockTransportError, MOCK_DEFAULTS, startMock } from './generator/mock.ts';
import { lintSpec } from './generator/pipeline.ts';
import { starterContract } from './generator/starter.ts';

export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly cwd: string;
}

const USAGE = `streamspec: typed streaming servers, clients and proto files from one contract.

Usage:
  streamspec generate <spec...> [--transport T] [--out DIR]
  streamspec check [spec...]
  streamspec lint <spec> [--transport T] [--format text|json]
  streamspec watch <spec> [--transport T] [--out DIR]
  streamspec mock <spec> [--transport sse|ndjson] [--port P] [--count N] [--interval MS]
  streamspec init [FILE]
  streamspec <command> --help

Transports: ${TRANSPORTS.join(', ')}.
Exit codes: 0 ok, 1 diagnostics or stale output, 2 usage.
`;

const HELP: Record<string, string> = {
  generate: `Usage: streamspec generate <spec...> [--transport T] [--out DIR]

Checks each contract and writes its generated files to DIR (default generated/<spec name>/):
types.ts, validate.ts, runtime/, proto/ with buf.yaml, proto.lock.json and a manifest.
Writes are atomic: on any error the previous output stays as it was. Files streamspec did not
write are never overwritten or deleted.

Options:
  --transport T  sse | ndjson | websocket | grpc (default: the contract's own transport)
  --out DIR      output folder (only with one spec)
  --format F     diagnostics as text (default) or json
`,
  check: `Usage: streamspec check [spec...]

Regenerates every contract (default: spec/*.yaml) in memory and lists output files that are
stale, missing or no longer generated. Exit 1 when anything is stale. Nothing is written.
`,
  lint: `Usage: streamspec lint <spec> [--transport T] [--format text|json]

Checks a contract and prints its diagnostics: file:line:col, severity, code, what is wrong and
what to do. --format json prints an array of {code, severity, message, file, line, col}.
`,
  watch: `Usage: streamspec watch <spec> [--transport T] [--out DIR]

Generates, then regenerates whenever the contract or a file it $refs is saved. Diagnostics are
printed and watching goes on after a bad edit. Stop with Ctrl-C.
`,
  mock: `Usage: streamspec mock <spec> [--transport sse|ndjson] [--port P] [--count N] [--interval MS]

Serves every stream of a contract on 127.0.0.1 with schema-valid example messages (from the
schemas' examples and defaults, else made to fit), cycling through the message types, then the
terminal message. Deterministic: the same URL gives the same messages, so a resumed stream
continues exactly where it left off. Resume, heartbeats and backpressure behave as in the
generated server. The first line on stdout is "listening on http://127.0.0.1:PORT", then one
line per stream. Stop with Ctrl-C.

Options:
  --transport T  sse | ndjson (default: the contract's own transport)
  --port P       port to listen on; 0 picks a free one (default ${MOCK_DEFAULTS.port})
  --count N      messages per stream before the terminal message (default ${MOCK_DEFAULTS.count})
  --interval MS  pause between messages in ms (default ${MOCK_DEFAULTS.interval}); a sampled stream waits at least its interval
`,
  init: `Usage: streamspec init [FILE]

Writes a starter contract to FILE (default spec/service.yaml). Refuses to overwrite a file.
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
} as const;

function parse(argv: readonly string[], command?: string) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      transport: { type: 'string', short: 't' },
      out: { type: 'string', short: 'o' },
      format: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      ...(command === 'mock' ? MOCK_OPTIONS : ({} as Partial<typeof MOCK_OPTIONS>)),
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

function formatOf(args: Args): 'text' | 'json' {
  const f = args.values.format ?? 'text';
  if (f !== 'text' && f !== 'json') throw new UsageError(`--format "${f}" is not a format. Use text or json.`);
  return f;
}

function printDiagnostics(io: Io, diagnostics: readonly Diagnostic[], sources: ReadonlyMap<string, string>, format: 'text' | 'json'): void {
  if (format === 'json') io.out(formatJson(diagnostics));
  else if (diagnostics.length) io.err(formatText(diagnostics, sources));
}

function summary(diagnostics: readonly Diagnostic[]): string {
  const e = diagnostics.filter((d) => d.severity === 'error').length;
  const w = diagnostics.length - e;
  return `${e} error${e === 1 ? '' : 's'}, ${w} warning${w === 1 ? '' : 's'}`;
}

async function runGenerate(args: Args, io: Io): Promise<number> {
  const specs = args.positionals;
  if (specs.length === 0) throw new UsageError('name at least one contract, for example: streamspec generate spec/assistant.yaml.');
  if (args.values.out !== undefined && specs.length > 1) throw new UsageError('--out takes one contract; run generate once per contract to choose each folder.');
  const transport = transportOf(args);
  const format = formatOf(args);
  let status = 0;
  const all: Diagnostic[] = [];
  for (const spec of specs) {
    const result = await generate({ spec, cwd: io.cwd, ...(transport ? { transport } : {}), ...(args.values.out ? { out: args.values.out } : {}) });
    all.push(...result.diagnostics);
    if (format === 'text') printDiagnostics(io, result.diagnostics, result.sources, 'text');
    status = Math.max(status, reportGenerate(io, spec, result));
  }
  if (format === 'json') io.out(formatJson(all));
  return status;
}

function reportGenerate(io: Io, spec: string, r: GenerateResult): number {
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
  if (r.notYet.length) io.out(`  not yet generated for ${r.transport}: ${r.notYet.join(', ')}\n`);
  return 0;
}

/** The contracts in spec/: every YAML file there (the format's own JSON Schema is .json). */
function defaultSpecs(cwd: string): string[] {
  const dir = join(cwd, 'spec');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => `spec/${f}`);
}

async function runCheck(args: Args, io: Io): Promise<number> {
  const specs = args.positionals.length ? args.positionals : defaultSpecs(io.cwd);
  if (specs.length === 0) throw new UsageError('no contracts: name one, or put them in spec/.');
  let status = 0;
  for (const spec of specs) {
    const { result, stale, missing, extra } = await checkStale({ spec, cwd: io.cwd });
    printDiagnostics(io, result.diagnostics, result.sources, 'text');
    if (!result.ok) {
      io.err(`${spec}: cannot be generated (${summary(result.diagnostics)}).\n`);
      status = 1;
      continue;
    }
    const problems = [...stale.map((f) => `stale    ${f}`), ...missing.map((f) => `missing  ${f}`), ...extra.map((f) => `extra    ${f}`)];
    if (problems.length) {
      status = 1;
      io.out(`${spec}: ${result.outDir}/ is out of date; run streamspec generate ${spec}\n${problems.map((p) => `  ${p}\n`).join('')}`);
    } else io.out(`${spec}: ${result.outDir}/ is up to date\n`);
  }
  return status;
}

function runLint(args: Args, io: Io): number {
  const [spec, ...more] = args.positionals;
  if (!spec || more.length) throw new UsageError('name exactly one contract, for example: streamspec lint spec/assistant.yaml.');
  const transport = transportOf(args);
  const format = formatOf(args);
  const r = lintSpec(spec, { cwd: io.cwd, ...(transport ? { transport } : {}) });
  printDiagnostics(io, r.diagnostics, r.sources, format);
  if (format === 'text') io.err(`${spec}: ${summary(r.diagnostics)}\n`);
  return hasErrors(r.diagnostics) ? 1 : 0;
}

async function runWatch(args: Args, io: Io): Promise<number> {
  const [spec, ...more] = args.positionals;
  if (!spec || more.length) throw new UsageError('name exactly one contract to watch.');
  const transport = transportOf(args);
  const watchers = new Map<string, FSWatcher>();
  let timer: NodeJS.Timeout | undefined;
  let running = Promise.resolve();

  const once = async () => {
    const started = performance.now();
    const r = await generate({ spec, cwd: io.cwd, ...(transport ? { transport } : {}), ...(args.values.out ? { out: args.values.out } : {}) });
    printDiagnostics(io, r.diagnostics, r.sources, 'text');
    reportGenerate(io, spec, r);
    io.out(`watch: done in ${Math.round(performance.now() - started)} ms; waiting for changes\n`);
    // Watch what the contract reads now: a new $ref'd file joins, a dropped one leaves.
    const want = new Set((r.inputs.length ? r.inputs : [spec]).map((f) => resolve(io.cwd, f)));
    for (const [f, w] of watchers) if (!want.has(f)) (w.close(), watchers.delete(f));
    for (const f of want) if (!watchers.has(f) && existsSync(f)) watchers.set(f, fsWatch(f, schedule));
  };
  // Editors save in bursts (and some replace the file): coalesce, then run one at a time.
  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(() => {
      running = running.then(once);
    }, 100);
  }
  running = running.then(once);
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
    mock = await startMock({ spec, cwd: io.cwd, port, count, interval, ...(transport ? { transport } : {}) });
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
  return 0;
}
