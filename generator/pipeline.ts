// spec file --load--> document + positions --validate--> diagnostics --build--> IR --bind--> bound IR.
// Stops at the first stage that reports an error: later stages would only repeat it. An AsyncAPI
// document (detected by its `asyncapi` field) is first mapped onto a StreamSpec one whose
// positions point back into the AsyncAPI files; every later stage runs on that unchanged.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { checkDiscipline } from './check/discipline.ts';
import { checkShape } from './check/shape.ts';
import { checkTransportFit } from './check/transport-fit.ts';
import { hasErrors, sortDiagnostics, type Diagnostic } from './diagnostics.ts';
import { bind, type BoundContract } from './ir/bind.ts';
import { buildContract } from './ir/build.ts';
import type { Contract, Transport } from './ir/types.ts';
import { fromAsyncApi, isAsyncApi } from './load/asyncapi/adapter.ts';
import { loadContract } from './load/load.ts';
import type { YamlFile } from './load/types.ts';

export interface LintOptions {
  /** Overrides the contract's own `transport`. */
  readonly transport?: Transport;
  readonly cwd?: string;
  /**
   * AsyncAPI input: fill what x-streamspec leaves out with the documented defaults, each a
   * warning (SS410), instead of an error per missing primitive. Default false.
   */
  readonly assumeDefaults?: boolean;
}

export interface LintResult {
  readonly contract: Contract | undefined;
  readonly bound: BoundContract | undefined;
  readonly diagnostics: readonly Diagnostic[];
  /** Text of every file read, for printing source lines under diagnostics. */
  readonly sources: ReadonlyMap<string, string>;
  /** Every file the contract was read from (the spec and what it `$ref`s): what `watch` watches. */
  readonly files: readonly string[];
  /** True when the spec is an AsyncAPI document (it has an `asyncapi` field). */
  readonly asyncapi?: boolean;
  /** For AsyncAPI input without errors, the StreamSpec document it was mapped onto (what `convert` writes). */
  readonly converted?: unknown;
}

export function lintSpec(spec: string, opts: LintOptions = {}): LintResult {
  const loaded = loadContract(spec, opts.cwd !== undefined ? { cwd: opts.cwd } : {});
  const sources = new Map([...loaded.files].map(([name, f]) => [name, f.text]));
  const files = [...loaded.files.keys()];
  let converted: YamlFile | undefined;
  let asyncapi = false;
  const done = (diagnostics: Diagnostic[], contract?: Contract, bound?: BoundContract): LintResult => ({
    contract,
    bound,
    diagnostics: sortDiagnostics(diagnostics),
    sources,
    files,
    ...(asyncapi ? { asyncapi } : {}),
    ...(converted ? { converted: converted.value } : {}),
  });

  if (!loaded.root) return done(loaded.diagnostics);
  let root = loaded.root;
  let contractFiles = loaded.files;
  const diagnostics = [...loaded.diagnostics];
  if (isAsyncApi(root.value)) {
    asyncapi = true;
    const adapted = fromAsyncApi(root, loaded.files, { assumeDefaults: opts.assumeDefaults ?? false });
    diagnostics.push(...adapted.diagnostics);
    if (!adapted.document || hasErrors(diagnostics)) return done(diagnostics);
    // The mapped document is self-contained: every schema it uses is in its components.
    converted = root = adapted.document;
    contractFiles = new Map([[root.file, root]]);
  }
  diagnostics.push(...checkShape(root, contractFiles));
  if (hasErrors(diagnostics)) return done(diagnostics);

  const hash = createHash('sha256').update(readBytes(spec, opts.cwd, root.text)).digest('hex');
  const built = buildContract({ root, files: contractFiles, hash });
  diagnostics.push(...built.diagnostics);
  if (!built.contract || hasErrors(diagnostics)) return done(diagnostics);

  const contract = built.contract;
  const transport = opts.transport ?? contract.transport;
  diagnostics.push(...checkDiscipline(contract), ...checkTransportFit(contract, transport));
  if (hasErrors(diagnostics)) return done(diagnostics, contract);
  return done(diagnostics, contract, bind(contract, transport));
}

function readBytes(spec: string, cwd: string | undefined, text: string): Buffer {
  try {
    return readFileSync(resolve(cwd ?? process.cwd(), spec));
  } catch {
    return Buffer.from(text, 'utf8');
  }
}
