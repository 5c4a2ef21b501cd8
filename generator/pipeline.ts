// spec file --load--> document + positions --validate--> diagnostics --build--> IR --bind--> bound IR.
// Stops at the first stage that reports an error: later stages would only repeat it.

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
import { loadContract } from './load/load.ts';

export interface LintOptions {
  /** Overrides the contract's own `transport`. */
  readonly transport?: Transport;
  readonly cwd?: string;
}

export interface LintResult {
  readonly contract: Contract | undefined;
  readonly bound: BoundContract | undefined;
  readonly diagnostics: readonly Diagnostic[];
  /** Text of every file read, for printing source lines under diagnostics. */
  readonly sources: ReadonlyMap<string, string>;
  /** Every file the contract was read from (the spec and what it `$ref`s): what `watch` watches. */
  readonly files: readonly string[];
}

export function lintSpec(spec: string, opts: LintOptions = {}): LintResult {
  const loaded = loadContract(spec, opts.cwd !== undefined ? { cwd: opts.cwd } : {});
  const sources = new Map([...loaded.files].map(([name, f]) => [name, f.text]));
  const files = [...loaded.files.keys()];
  const done = (diagnostics: Diagnostic[], contract?: Contract, bound?: BoundContract): LintResult => ({
    contract,
    bound,
    diagnostics: sortDiagnostics(diagnostics),
    sources,
    files,
  });

  const root = loaded.root;
  if (!root) return done(loaded.diagnostics);
  const diagnostics = [...loaded.diagnostics, ...checkShape(root, loaded.files)];
  if (hasErrors(diagnostics)) return done(diagnostics);

  const hash = createHash('sha256').update(readBytes(spec, opts.cwd, root.text)).digest('hex');
  const built = buildContract({ root, files: loaded.files, hash });
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
