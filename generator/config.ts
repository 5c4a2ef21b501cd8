// The project config, streamspec.yaml at the project root (in the spirit of buf.gen.yaml): which
// contracts `generate`, `check`, `lint` and `watch` run over when given none. It is read with the
// contract loader's positions and checked against spec/streamspec-config.schema.json, so its
// mistakes are located diagnostics (SS110) like a contract's.

import { existsSync, readFileSync } from 'node:fs';
import { join, posix, resolve } from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import schema from '../spec/streamspec-config.schema.json' with { type: 'json' };
import { didYouMean } from './check/did-you-mean.ts';
import { diagnostic, sortDiagnostics, type Diagnostic } from './diagnostics.ts';
import { TRANSPORTS, type Transport } from './ir/types.ts';
import { dottedPath, loadYamlText } from './load/load.ts';
import { badPackageName, type SdkOptions } from './targets/sdk.ts';
import type { Pointer, YamlFile } from './load/types.ts';
import { fromJsonPointer, valueAt } from './load/pointer.ts';

export const CONFIG_FILE = 'streamspec.yaml';

export interface ConfigContract {
  /** Path of the contract, relative to the project root (where streamspec.yaml is). */
  readonly spec: string;
  /** Empty: the contract's own transport. */
  readonly transports: readonly Transport[];
  readonly out?: string;
  /** Also generate a publishable client package (see generator/targets/sdk.ts). */
  readonly sdk?: ConfigSdk;
  readonly options: Readonly<Record<string, unknown>>;
}

export interface ConfigSdk {
  /** npm package name. */
  readonly name: string;
  /** Output folder, relative to streamspec.yaml (default generated/<spec name>-sdk). */
  readonly out?: string;
}

export interface Config {
  readonly version: 1;
  readonly contracts: readonly ConfigContract[];
}

export interface LoadConfigResult {
  /** False when there is no streamspec.yaml in cwd (then `config` is undefined and nothing is wrong). */
  readonly found: boolean;
  /** Undefined when not found or when it has errors. */
  readonly config: Config | undefined;
  readonly diagnostics: readonly Diagnostic[];
  /** The config's text by file name, for printing source lines under diagnostics. */
  readonly sources: ReadonlyMap<string, string>;
}

/** One generate run a config asks for: a contract, a transport (or its own), an output folder. */
export interface Job {
  readonly spec: string;
  readonly transport?: Transport;
  readonly out?: string;
  /** Set: this run writes the contract's SDK package instead of its generated/ output. */
  readonly sdk?: SdkOptions;
}

type SchemaNode = { properties?: Record<string, unknown>; $ref?: string };
const DEFS = (schema as unknown as { $defs: Record<string, SchemaNode> }).$defs;

let validator: ValidateFunction | undefined;

/** Reads and checks `cwd/streamspec.yaml`. Never throws for a user's mistake. */
export function loadConfig(cwd: string = process.cwd()): LoadConfigResult {
  const abs = join(cwd, CONFIG_FILE);
  if (!existsSync(abs)) return { found: false, config: undefined, diagnostics: [], sources: new Map() };
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    const at = { file: CONFIG_FILE, line: 1, col: 1 };
    return { found: true, config: undefined, diagnostics: [diagnostic('SS100', at, `Cannot read ${CONFIG_FILE}: ${(e as Error).message}.`)], sources: new Map() };
  }
  const sources = new Map([[CONFIG_FILE, text]]);
  return { found: true, sources, ...parseConfig(text, cwd) };
}

/** Checks a config's text; `cwd` is where its paths are resolved (to report missing contracts). */
export function parseConfig(text: string, cwd: string): { config: Config | undefined; diagnostics: Diagnostic[] } {
  const parsed = loadYamlText(CONFIG_FILE, text);
  if (!parsed.file) return { config: undefined, diagnostics: parsed.diagnostics };
  const file = parsed.file;
  validator ??= new Ajv2020({ allErrors: true, strict: true }).compile(schema);
  const diagnostics: Diagnostic[] = [];
  if (!validator(file.value)) {
    for (const e of validator.errors ?? []) diagnostics.push(toDiagnostic(file, e));
    return { config: undefined, diagnostics: dedupe(diagnostics) };
  }
  const raw = file.value as { version: 1; contracts: Record<string, unknown>[] };
  const contracts = raw.contracts.map((c, i): ConfigContract => {
    const spec = c.spec as string;
    if (!existsSync(resolve(cwd, spec))) {
      diagnostics.push(
        diagnostic('SS110', file.pos(['contracts', i, 'spec'], 'value'), `contracts[${i}].spec names ${spec}, which does not exist. Fix the path; it is relative to ${CONFIG_FILE}.`),
      );
    }
    const sdk = 'sdk' in c ? sdkOf(file, i, c.sdk, diagnostics) : undefined;
    const options = (c.options ?? {}) as Record<string, unknown>;
    for (const key of Object.keys(options)) {
      diagnostics.push(diagnostic('SS111', file.pos(['contracts', i, 'options', key]), `contracts[${i}].options.${key} is not a generator option yet; it is ignored.`));
    }
    return {
      spec,
      transports: (c.transports as Transport[] | undefined) ?? [],
      ...(typeof c.out === 'string' ? { out: c.out } : {}),
      ...(sdk ? { sdk } : {}),
      options,
    };
  });
  const sorted = sortDiagnostics(diagnostics);
  return { config: sorted.some((d) => d.severity === 'error') ? undefined : { version: 1, contracts }, diagnostics: sorted };
}

/**
 * The generate runs a config asks for. One transport (or none: the contract's own) goes to `out`
 * (default generated/<spec name>, as for the CLI); several go to <out>/<transport> each.
 */
export function jobsOf(config: Config): Job[] {
  return config.contracts.flatMap((c): Job[] => [...generateJobs(c), ...(c.sdk ? [sdkJob(c, c.sdk)] : [])]);
}

function generateJobs(c: ConfigContract): Job[] {
  if (c.transports.length <= 1) {
    const [transport] = c.transports;
    return [{ spec: c.spec, ...(transport ? { transport } : {}), ...(c.out !== undefined ? { out: c.out } : {}) }];
  }
  const base = c.out ?? posix.join('generated', specName(c.spec));
  return c.transports.map((transport) => ({ spec: c.spec, transport, out: posix.join(base, transport) }));
}

/** The SDK is built for the first listed transport that has a client, else the contract's own. */
function sdkJob(c: ConfigContract, sdk: ConfigSdk): Job {
  const transport = c.transports.find((t) => t === 'sse' || t === 'ndjson');
  return { spec: c.spec, ...(transport ? { transport } : {}), out: sdk.out ?? posix.join('generated', `${specName(c.spec)}-sdk`), sdk: { name: sdk.name } };
}

/**
 * `sdk: { name, out? }`, checked here: the config schema leaves `sdk` open. Problems are SS110
 * diagnostics at the offending key or value.
 */
function sdkOf(file: YamlFile, i: number, value: unknown, diagnostics: Diagnostic[]): ConfigSdk | undefined {
  const at = (p: Pointer, side: 'key' | 'value' = 'value') => file.pos(['contracts', i, 'sdk', ...p], side);
  const where = `contracts[${i}].sdk`;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    diagnostics.push(diagnostic('SS110', at([]), `${where} must be a mapping such as { name: my-api-client }, not ${describe(value)}.`));
    return undefined;
  }
  const v = value as Record<string, unknown>;
  let ok = true;
  for (const key of Object.keys(v).filter((k) => k !== 'name' && k !== 'out')) {
    const guess = didYouMean(key, ['name', 'out']);
    diagnostics.push(diagnostic('SS110', at([key], 'key'), `${where}.${key} is not an sdk field. ${guess !== undefined ? `Did you mean "${guess}"?` : 'Use name or out.'}`));
    ok = false;
  }
  if (typeof v.name !== 'string') {
    diagnostics.push(diagnostic('SS110', at('name' in v ? ['name'] : []), `${where} needs "name", the npm package name, as a string.`));
    ok = false;
  } else {
    const bad = badPackageName(v.name);
    if (bad) {
      diagnostics.push(diagnostic('SS110', at(['name']), `${where}.name "${v.name}" is not an npm package name: ${bad}.`));
      ok = false;
    }
  }
  if ('out' in v && (typeof v.out !== 'string' || v.out === '')) {
    diagnostics.push(diagnostic('SS110', at(['out']), `${where}.out must be a folder path, not ${describe(v.out)}.`));
    ok = false;
  }
  return ok ? { name: v.name as string, ...(typeof v.out === 'string' ? { out: v.out } : {}) } : undefined;
}

/** The name the IR builder gives a contract: its file name without the extension. */
function specName(spec: string): string {
  return spec.replace(/^.*[\\/]/, '').replace(/\.(ya?ml|json)$/i, '');
}

/** A starter config naming one contract, for `streamspec init`. */
export function starterConfig(spec: string, schemaRef: string): string {
  return `# yaml-language-server: $schema=${schemaRef}
# Contracts that streamspec generate, check, lint and watch run over when given none.
version: 1
contracts:
  - spec: ${spec}
    # transports: [sse]        # default: the contract's own; with several, out/<transport> each
    # out: generated/service   # default: generated/<spec name>
`;
}

// ---------------------------------------------------------------------------------------------
// ajv errors -> SS110 at the key or value they are about

function toDiagnostic(file: YamlFile, e: ErrorObject): Diagnostic {
  const pointer = fromJsonPointer(file.value, e.instancePath);
  const where = pointer.length ? dottedPath(pointer) : 'the config';
  const at = (p: Pointer, side: 'key' | 'value' = 'value') => file.pos(p, side);
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(e.params.additionalProperty);
      const known = Object.keys(knownKeys(pointer));
      const guess = didYouMean(key, known);
      const hint = guess !== undefined ? `Did you mean "${guess}"?` : `Use one of: ${known.join(', ')}.`;
      const name = pointer.length ? `${where}.${key}` : key;
      return diagnostic('SS110', at([...pointer, key], 'key'), `${name} is not a config field. ${hint}`);
    }
    case 'required':
      return diagnostic('SS110', at(pointer), `${where} lacks "${String(e.params.missingProperty)}". Add it.`);
    case 'type':
      return diagnostic('SS110', at(pointer), `${where} must be ${article(String(e.params.type))}, not ${describe(valueAt(file.value, pointer))}.`);
    case 'const':
      return diagnostic('SS110', at(pointer), `${where} must be ${JSON.stringify(e.params.allowedValue)}; it is the only config version.`);
    case 'enum':
      return diagnostic('SS110', at(pointer), `${where} is ${JSON.stringify(valueAt(file.value, pointer))}, not a transport. Use one of: ${TRANSPORTS.join(', ')}.`);
    case 'minItems':
      return diagnostic('SS110', at(pointer), `${where} is empty. List at least one.`);
    case 'minLength':
      return diagnostic('SS110', at(pointer), `${where} is empty. Give a path.`);
    case 'uniqueItems':
      return diagnostic('SS110', at(pointer), `${where} lists a transport twice. List each once.`);
    default:
      return diagnostic('SS110', at(pointer), `${where} ${e.message ?? 'is not valid'}.`);
  }
}

/** The properties allowed at `pointer` (the root, or one entry of `contracts`). */
function knownKeys(pointer: Pointer): Record<string, unknown> {
  return (pointer.length === 0 ? (schema as SchemaNode).properties : DEFS.contract!.properties) ?? {};
}

function article(type: string): string {
  return type === 'array' ? 'a list' : type === 'object' ? 'a mapping' : type === 'integer' ? 'an integer' : `a ${type}`;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function dedupe(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return sortDiagnostics(diagnostics.filter((d) => {
    const key = `${d.line}:${d.col} ${d.message}`;
    return seen.has(key) ? false : (seen.add(key), true);
  }));
}
