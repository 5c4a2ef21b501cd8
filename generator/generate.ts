// The engine behind the CLI: lint, then targets -> render -> format -> write. It never prints and
// never exits; the CLI (and any build script) decides what to do with the result.

import { readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { hasErrors, type Diagnostic } from './diagnostics.ts';
import type { Transport } from './ir/types.ts';
import { lintSpec } from './pipeline.ts';
import { formatTsPieces } from './render/format.ts';
import { ProtoLockError } from './schema/proto.ts';
import { createRenderer, type Renderer } from './render/handlebars.ts';
import { sdkProblem, sdkVersionProblem, type SdkOptions } from './targets/sdk.ts';
import { BufError, generateProtobufEs } from './targets/grpc.ts';
import { PROTO_LOCK_FILE, TEMPLATES_DIR, targetsFor, type Target } from './targets/index.ts';
import { readManifest, reusableChunks, type Manifest } from './write/manifest.ts';
import { diffOutput, writeOutput, type OutputFile, type WriteResult } from './write/write.ts';

export interface GenerateOptions {
  readonly spec: string;
  readonly transport?: Transport;
  /** Output folder; default `generated/<spec name>`. Relative to cwd. */
  readonly out?: string;
  /** Render in memory only: nothing is written. */
  readonly dryRun?: boolean;
  readonly cwd?: string;
  /**
   * Set: write a publishable npm package around the client only (sse, ndjson), by default into
   * `generated/<spec name>-sdk`.
   */
  readonly sdk?: SdkOptions;
  /** AsyncAPI input: apply the documented defaults for missing primitives, as warnings (see lintSpec). */
  readonly assumeDefaults?: boolean;
}

export interface GenerateResult {
  readonly ok: boolean;
  readonly diagnostics: readonly Diagnostic[];
  readonly sources: ReadonlyMap<string, string>;
  /** Files of the contract (spec and `$ref`'d files). */
  readonly inputs: readonly string[];
  readonly outDir: string | undefined;
  readonly transport: Transport | undefined;
  readonly files: readonly OutputFile[];
  /** The contract's file, hash and info.version, once it has passed lint. */
  readonly contract?: { readonly file: string; readonly hash: string; readonly version: string };
  /**
   * SDK only: the SDK in the output folder came from a different contract with the same
   * info.version (see sdkVersionProblem); regenerating does not bump it.
   */
  readonly sdkUnbumped?: string;
  /** Present when files were written (or writing was refused). */
  readonly write?: WriteResult;
  /** How long each stage took, in ms. */
  readonly timings: { readonly lint: number; readonly render: number; readonly format: number; readonly write: number };
}

let renderer: Renderer | undefined;

export async function generate(opts: GenerateOptions): Promise<GenerateResult> {
  const cwd = opts.cwd ?? process.cwd();
  const t0 = performance.now();
  const lint = lintSpec(opts.spec, { ...(opts.transport ? { transport: opts.transport } : {}), cwd, assumeDefaults: opts.assumeDefaults ?? false });
  const t1 = performance.now();
  const base = { diagnostics: lint.diagnostics, sources: lint.sources, inputs: lint.files };
  if (!lint.bound || hasErrors(lint.diagnostics)) {
    return { ...base, ok: false, outDir: undefined, transport: undefined, files: [], timings: { lint: t1 - t0, render: 0, format: 0, write: 0 } };
  }
  const bound = lint.bound;
  const contract = { file: bound.contract.file, hash: bound.contract.hash, version: bound.contract.version };
  const outDir = opts.out ?? join('generated', opts.sdk ? `${bound.contract.id}-sdk` : bound.contract.id);
  const absOut = resolve(cwd, outDir);
  const sdkRefusal = opts.sdk && sdkProblem(bound, opts.sdk);
  if (sdkRefusal) {
    const write = { ok: false, error: { code: 'IO', file: 'package.json', message: `no SDK: ${sdkRefusal}` } } as const;
    return { ...base, ok: false, contract, outDir: relative(cwd, absOut) || '.', transport: bound.transport, files: [], write, timings: { lint: t1 - t0, render: 0, format: 0, write: 0 } };
  }

  const manifest = readManifestSafe(absOut);
  const previousLock = readOwned(absOut, manifest, PROTO_LOCK_FILE);
  let targets: Target[];
  try {
    targets = targetsFor({ bound, previousLock, ...(opts.sdk ? { sdk: opts.sdk } : {}) });
  } catch (e) {
    if (!(e instanceof ProtoLockError)) throw e;
    // The lock keeps field numbers stable; guessing past a corrupt one could renumber fields.
    const lockPath = join(relative(cwd, absOut) || '.', PROTO_LOCK_FILE);
    const message = `${lockPath} is corrupt (${e.message}); nothing was written. Restore it from version control, or delete it to number fields afresh (a breaking change for existing clients).`;
    return {
      ...base,
      ok: false,
      outDir: relative(cwd, absOut) || '.',
      transport: bound.transport,
      files: [],
      write: { ok: false, error: { code: 'IO', file: PROTO_LOCK_FILE, message } },
      timings: { lint: t1 - t0, render: 0, format: 0, write: 0 },
    };
  }

  renderer ??= createRenderer(TEMPLATES_DIR);
  const rendered = targets.map((t) => ({ target: t, text: render(renderer!, t) }));
  if (bound.transport === 'grpc' && !opts.sdk) {
    try {
      rendered.push(...(await protobufEsFiles(rendered)));
    } catch (e) {
      if (!(e instanceof BufError)) throw e;
      // Nothing is written: the output stays as the last successful run left it.
      const message = `protoc-gen-es (through buf generate) failed; nothing was written.\n${e.message}`;
      return { ...base, ok: false, contract, outDir: relative(cwd, absOut) || '.', transport: bound.transport, files: [], write: { ok: false, error: { code: 'IO', file: 'proto/', message } }, timings: { lint: t1 - t0, render: performance.now() - t1, format: 0, write: 0 } };
    }
  }
  const t2 = performance.now();

  const files = await Promise.all(rendered.map(({ target, text }) => finish(target, text, absOut, manifest)));
  const t3 = performance.now();

  const unbumped = opts.sdk ? sdkVersionProblem(absOut, contract) : undefined;
  const result = {
    ...base,
    contract,
    outDir: relative(cwd, absOut) || '.',
    transport: bound.transport,
    files,
    ...(unbumped ? { sdkUnbumped: unbumped } : {}),
  };
  if (opts.dryRun) return { ...result, ok: true, timings: { lint: t1 - t0, render: t2 - t1, format: t3 - t2, write: 0 } };
  const write = writeOutput(absOut, files, { spec: bound.contract.file, specHash: bound.contract.hash });
  const t4 = performance.now();
  return { ...result, ok: write.ok, write, timings: { lint: t1 - t0, render: t2 - t1, format: t3 - t2, write: t4 - t3 } };
}

/** Files in `outDir` that differ from what the spec generates now (for `check`). */
export async function checkStale(
  opts: GenerateOptions,
): Promise<{ result: GenerateResult; stale: string[]; missing: string[]; extra: string[]; sdkUnbumped?: string }> {
  const result = await generate({ ...opts, dryRun: true });
  if (!result.ok || !result.outDir) return { result, stale: [], missing: [], extra: [] };
  const diff = diffOutput(resolve(opts.cwd ?? process.cwd(), result.outDir), result.files);
  // Read from the SDK on disk: once regenerated it records the new hash, so generate warns too.
  return { result, ...diff, ...(result.sdkUnbumped ? { sdkUnbumped: result.sdkUnbumped } : {}) };
}

/** The `_pb.ts` files protoc-gen-es writes for the rendered proto, as owned, formatted outputs beside it. */
async function protobufEsFiles(rendered: readonly { target: Target; text: string }[]): Promise<{ target: Target; text: string }[]> {
  const protos = rendered.filter((r) => r.target.path.startsWith('proto/') && r.target.path.endsWith('.proto'));
  const bufYaml = rendered.find((r) => r.target.path === 'proto/buf.yaml')?.text ?? 'version: v2\n';
  const files = await generateProtobufEs(
    protos.map((r) => ({ path: r.target.path.slice('proto/'.length), text: r.text })),
    bufYaml,
  );
  return files.map((f) => {
    const target: Target = { kind: 'text', path: `proto/${f.path}`, text: f.text, finish: 'ts' };
    return { target, text: f.text };
  });
}

function render(r: Renderer, t: Target): string {
  return t.kind === 'template' ? r.render(t.template, t.context) : t.text;
}

/**
 * Formatted pieces of this process's earlier runs (watch mode), by hash of their unformatted
 * text; cleared when it grows past a bound so a long watch session stays small.
 */
const formattedPieces = new Map<string, string>();
const MAX_REMEMBERED_PIECES = 100_000;

/** Forgets the formatted pieces this process remembers (benchmarks measure cold runs with it). */
export function forgetFormattedPieces(): void {
  formattedPieces.clear();
}

/** Formats a TS file, reusing every piece whose unformatted text is unchanged since the last run. */
async function finish(t: Target, text: string, absOut: string, manifest: Manifest | undefined): Promise<OutputFile> {
  if (t.finish === 'none') return { path: t.path, content: text };
  if (formattedPieces.size > MAX_REMEMBERED_PIECES) formattedPieces.clear();
  for (const [hash, piece] of reusableChunks(absOut, manifest, t.path)) formattedPieces.set(hash, piece);
  const { text: content, chunks } = await formatTsPieces(text, t.path, formattedPieces);
  return { path: t.path, content, chunks };
}

function readManifestSafe(absOut: string): Manifest | undefined {
  try {
    return readManifest(absOut);
  } catch {
    // A corrupt manifest is reported by writeOutput, which refuses to write; here it only means no cache.
    return undefined;
  }
}

/** A file's text when streamspec wrote it (it is in the manifest), else undefined. */
function readOwned(absOut: string, manifest: Manifest | undefined, path: string): string | undefined {
  if (!manifest || !Object.hasOwn(manifest.files, path)) return undefined;
  try {
    return readFileSync(join(absOut, path), 'utf8');
  } catch {
    return undefined;
  }
}
