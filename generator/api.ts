// The Node API for build scripts: the engine the CLI runs, as functions that return results.
// Nothing here calls process.exit or prints, unless a `log` function is passed in.

import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, jobsOf, type Job, type LoadConfigResult } from './config.ts';
import { formatJson, formatText, hasErrors, sortDiagnostics, type Diagnostic } from './diagnostics.ts';
import { checkStale, generate as runGenerate, type GenerateOptions, type GenerateResult } from './generate.ts';
import type { Transport } from './ir/types.ts';
import { contractYaml } from './load/asyncapi/convert.ts';
import { lintSpec, type LintResult } from './pipeline.ts';

export { loadConfig, jobsOf, CONFIG_FILE, type Config, type ConfigContract, type Job, type LoadConfigResult } from './config.ts';
export type { Diagnostic, Severity, Code } from './diagnostics.ts';
export type { GenerateResult } from './generate.ts';
export type { LintResult } from './pipeline.ts';
export type { Transport } from './ir/types.ts';

export const ERROR_FORMATS = ['text', 'json', 'github-actions'] as const;
export type ErrorFormat = (typeof ERROR_FORMATS)[number];

interface Logging {
  /** Receives the diagnostics, formatted as `errorFormat` (default text). Omit to print nothing. */
  readonly log?: (text: string) => void;
  readonly errorFormat?: ErrorFormat;
}

/** For AsyncAPI input: apply the documented defaults (each a warning, SS410) where x-streamspec is silent. */
interface AssumeDefaults {
  readonly assumeDefaults?: boolean;
}


export interface GenerateApiOptions extends GenerateOptions, Logging, AssumeDefaults {}

/** Checks a contract and writes its output (or, with dryRun, only renders it). */
export async function generate(opts: GenerateApiOptions): Promise<GenerateResult> {
  const { log, errorFormat, ...engine } = opts;
  const result = await runGenerate(engine);
  emit({ log, errorFormat }, result.diagnostics, result.sources);
  return result;
}

export interface LintApiOptions extends Logging, AssumeDefaults {
  readonly spec: string;
  readonly transport?: Transport;
  readonly cwd?: string;
}

/** Checks a contract without rendering anything. `ok` is false when there is an error. */
export function lint(opts: LintApiOptions): LintResult & { readonly ok: boolean } {
  const r = lintSpec(opts.spec, {
    ...(opts.transport ? { transport: opts.transport } : {}),
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    ...(opts.assumeDefaults !== undefined ? { assumeDefaults: opts.assumeDefaults } : {}),
  });
  emit(opts, r.diagnostics, r.sources);
  return { ...r, ok: !hasErrors(r.diagnostics) };
}

export interface CheckedContract {
  readonly spec: string;
  readonly transport: Transport | undefined;
  readonly outDir: string | undefined;
  /** False when the contract has errors or its output differs from what it generates now. */
  readonly ok: boolean;
  readonly result: GenerateResult;
  readonly stale: readonly string[];
  readonly missing: readonly string[];
  readonly extra: readonly string[];
  /** An SDK job whose contract changed while info.version stayed: the message `check` prints. */
  readonly sdkUnbumped?: string;
}

export interface CheckResult {
  readonly ok: boolean;
  /** Every diagnostic: the config's, then each contract's. */
  readonly diagnostics: readonly Diagnostic[];
  readonly sources: ReadonlyMap<string, string>;
  readonly contracts: readonly CheckedContract[];
}

export interface CheckApiOptions extends Logging, AssumeDefaults {
  readonly cwd?: string;
  /** Contracts to check, each with its own transport into generated/<name>; default: the config, else spec/*.yaml. */
  readonly specs?: readonly string[];
}

/** Regenerates in memory and compares with what is on disk; writes nothing. */
export async function check(opts: CheckApiOptions = {}): Promise<CheckResult> {
  const cwd = opts.cwd ?? process.cwd();
  const plan = planJobs(cwd, opts.specs);
  const diagnostics: Diagnostic[] = [...plan.diagnostics];
  const sources = new Map(plan.sources);
  const contracts: CheckedContract[] = [];
  for (const job of plan.jobs) {
    const { result, stale, missing, extra, sdkUnbumped } = await checkStale({ ...job, cwd, ...(opts.assumeDefaults !== undefined ? { assumeDefaults: opts.assumeDefaults } : {}) });
    diagnostics.push(...result.diagnostics);
    for (const [k, v] of result.sources) sources.set(k, v);
    const ok = result.ok && stale.length + missing.length + extra.length === 0 && !sdkUnbumped;
    contracts.push({ spec: job.spec, transport: result.transport ?? job.transport, outDir: result.outDir, ok, result, stale, missing, extra, ...(sdkUnbumped ? { sdkUnbumped } : {}) });
  }
  emit(opts, diagnostics, sources);
  return { ok: !hasErrors(plan.diagnostics) && contracts.every((c) => c.ok), diagnostics, sources, contracts };
}

export interface ConvertApiOptions extends Logging, AssumeDefaults {
  /** The AsyncAPI document. */
  readonly spec: string;
  readonly cwd?: string;
  /** Where the result will be written, relative to cwd; only used to point its $schema line. Default: cwd. */
  readonly out?: string;
}

export interface ConvertResult extends LintResult {
  /** False when the document has errors, or is not an AsyncAPI document. */
  readonly ok: boolean;
  /** False when the spec is a StreamSpec contract already (there is nothing to convert). */
  readonly asyncapi: boolean;
  /** The StreamSpec contract, as YAML; undefined unless ok. */
  readonly text: string | undefined;
}

/**
 * The StreamSpec contract an AsyncAPI document maps onto, as YAML text. It is exactly what
 * `generate` builds from, so the file lints clean and generates the same code (save the spec
 * name and hash in the generated headers). Nothing is written.
 */
export function convert(opts: ConvertApiOptions): ConvertResult {
  const r = lint(opts);
  const asyncapi = r.asyncapi === true;
  if (!r.ok || r.converted === undefined) return { ...r, ok: false, asyncapi, text: undefined };
  const cwd = opts.cwd ?? process.cwd();
  const schema = fileURLToPath(new URL('../spec/streamspec.schema.json', import.meta.url));
  const from = opts.out === undefined ? cwd : dirname(resolve(cwd, opts.out));
  const schemaRef = relative(from, schema).split('\\').join('/');
  return { ...r, ok: true, asyncapi: true, text: contractYaml(r.converted, { schemaRef, source: opts.spec }) };
}

export interface Plan {
  /** The generate runs, in order. */
  readonly jobs: readonly Job[];
  /** Where they came from: contracts named, streamspec.yaml, or spec/*.yaml. */
  readonly source: 'arguments' | 'config' | 'spec-folder';
  /** The config's diagnostics (errors mean `jobs` is empty). */
  readonly diagnostics: readonly Diagnostic[];
  readonly sources: ReadonlyMap<string, string>;
}

/**
 * What `generate`, `check`, `lint` and `watch` run over: the contracts named; else every one in
 * streamspec.yaml when it exists; else spec/*.yaml.
 */
export function planJobs(cwd: string, specs?: readonly string[], config: LoadConfigResult = specs?.length ? notFound : loadConfig(cwd)): Plan {
  if (specs?.length) return { jobs: specs.map((spec) => ({ spec })), source: 'arguments', diagnostics: [], sources: new Map() };
  if (config.found) {
    return { jobs: config.config ? jobsOf(config.config) : [], source: 'config', diagnostics: config.diagnostics, sources: config.sources };
  }
  return { jobs: specFolder(cwd).map((spec) => ({ spec })), source: 'spec-folder', diagnostics: [], sources: new Map() };
}

const notFound: LoadConfigResult = { found: false, config: undefined, diagnostics: [], sources: new Map() };

/** The contracts in spec/: every YAML file there (the format's own JSON Schema is .json). */
function specFolder(cwd: string): string[] {
  const dir = join(cwd, 'spec');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => `spec/${f}`);
}

/**
 * Diagnostics as text (with source lines and carets), a JSON array, or GitHub Actions workflow
 * commands (`::error file=…,line=…,col=…,title=SS301::message`), which GitHub shows on the diff.
 */
export function formatDiagnostics(diagnostics: readonly Diagnostic[], sources: ReadonlyMap<string, string>, format: ErrorFormat): string {
  if (format === 'json') return formatJson(diagnostics);
  if (format === 'text') return formatText(diagnostics, sources);
  return diagnostics.map((d) => githubCommand(d.severity, { file: d.file, line: d.line, col: d.col, title: d.code }, d.message)).join('');
}

/** One workflow command line, escaped per GitHub's rules (data: % CR LF; properties also : and ,). */
export function githubCommand(command: 'error' | 'warning' | 'notice', props: Readonly<Record<string, string | number>>, message: string): string {
  const data = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  const prop = (s: string) => data(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
  const list = Object.entries(props)
    .map(([k, v]) => `${k}=${prop(String(v))}`)
    .join(',');
  return `::${command}${list ? ` ${list}` : ''}::${data(message)}\n`;
}

function emit(opts: Logging, diagnostics: readonly Diagnostic[], sources: ReadonlyMap<string, string>): void {
  if (!opts.log) return;
  const format = opts.errorFormat ?? 'text';
  // JSON is a document even when empty; the other formats print nothing for nothing.
  if (format === 'json' || diagnostics.length) opts.log(formatDiagnostics(sortDiagnostics(diagnostics), sources, format));
}
