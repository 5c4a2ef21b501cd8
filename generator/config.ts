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
import type { Pointer, YamlFile } from './load/types.ts';

export const CONFIG_FILE = 'streamspec.yaml';

export interface ConfigContract {
  /** Path of the contract, relative to the project root (where streamspec.yaml is). */
  readonly spec: string;
  /** Empty: the contract's own transport. */
  readonly transports: readonly Transport[];
  readonly out?: string;
  /** Reserved for SDK packaging (issue 8): kept as written, not used yet. */
  readonly sdk?: unknown;
  readonly options: Readonly<Record<string, unknown>>;
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
    if ('sdk' in c) {
      diagnostics.push(diagnostic('SS111', file.pos(['contracts', i, 'sdk']), `contracts[${i}].sdk is reserved for SDK packaging and not used yet; it is ignored.`));
    }
    const options = (c.options ?? {}) as Record<string, unknown>;
    for (const key of Object.keys(options)) {
      diagnostics.push(diagnostic('SS111', file.pos(['contracts', i, 'options', key]), `contracts[${i}].options.${key} is not a generator option yet; it is ignored.`));
    }
    return {
      spec,
      transports: (c.transports as Transport[] | undefined) ?? [],
      ...(typeof c.out === 'string' ? { out: c.out } : {}),
      ...('sdk' in c ? { sdk: c.sdk } : {}),
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
  return config.contracts.flatMap((c): Job[] => {
    if (c.transports.length <= 1) {
      const [transport] = c.transports;
      return [{ spec: c.spec, ...(transport ? { transport } : {}), ...(c.out !== undefined ? { out: c.out } : {}) }];
    }
    const base = c.out ?? posix.join('generated', specName(c.spec));
    return c.transports.map((transport) => ({ spec: c.spec, transport, out: posix.join(base, transport) }));
  });
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
  const pointer = toPointer(file.value, e.instancePath);
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

function toPointer(value: unknown, instancePath: string): Pointer {
  if (!instancePath) return [];
  const out: (string | number)[] = [];
  let node = value;
  for (const raw of instancePath.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const key = Array.isArray(node) ? Number(seg) : seg;
    out.push(key);
    node = (node as Record<string | number, unknown> | undefined)?.[key];
  }
  return out;
}

function valueAt(value: unknown, pointer: Pointer): unknown {
  return pointer.reduce<unknown>((n, k) => (n as Record<string | number, unknown> | undefined)?.[k], value);
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
