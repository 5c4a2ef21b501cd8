// The manifest: which files in an output folder streamspec wrote, with their hashes. It is the
// only record of ownership, so a manifest that cannot be read is an error, never "no manifest".

import { createHash } from 'node:crypto';
import * as nodeFs from 'node:fs';
import { join } from 'node:path';

export const MANIFEST_FILE = '.streamspec-manifest.json';

export interface ManifestEntry {
  /** sha256 of the file as written. */
  sha256: string;
  /**
   * How the file was formatted, piece by piece: `hash:length` of each top-level piece, comma
   * separated (see render/format.ts). Lets a later run reuse the formatted pieces that did not change.
   */
  chunks?: string;
}

export interface Manifest {
  version: 1;
  /** The spec path as given on the command line, `/` separators. */
  spec: string;
  specHash: string;
  /** Keyed by path relative to the output folder, `/` separators; serialized in sorted order. */
  files: Record<string, ManifestEntry>;
}

/** A manifest that exists but cannot be trusted; `file` is its path. */
export class ManifestError extends Error {
  constructor(
    readonly file: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'ManifestError';
  }
}

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

const CHUNKS = /^[0-9a-f]{16}:[0-9]+(,[0-9a-f]{16}:[0-9]+)*$/;
const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Why `path` cannot be an output path, or undefined when it can: relative, `/` separators, no
 * `.`/`..`/empty segments. Applied to manifests too, so an edited manifest cannot make streamspec
 * delete a file outside its folder.
 */
export function badOutputPath(path: string): string | undefined {
  if (path === '') return 'the path is empty';
  if (/[\\\0]/.test(path)) return 'the path holds a backslash or NUL';
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) return 'the path is absolute';
  if (path.split('/').some((s) => s === '' || s === '.' || s === '..')) return 'the path has an empty, `.` or `..` segment';
  if (path === MANIFEST_FILE) return 'the path is the manifest itself';
  return undefined;
}

/** Code-unit order: the same on every machine, unlike localeCompare. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The manifest's bytes: fixed top-level order, files sorted by path, two-space JSON, final newline. */
export function serializeManifest(manifest: Manifest): string {
  // fromEntries defines own properties, so a file named `__proto__` stays a file.
  const files: Record<string, ManifestEntry> = Object.fromEntries(
    Object.entries(manifest.files)
      .sort(([a], [b]) => compareStrings(a, b))
      .map(([path, { sha256: hash, chunks }]) => [path, chunks === undefined ? { sha256: hash } : { sha256: hash, chunks }]),
  );
  const ordered: Manifest = { version: 1, spec: manifest.spec, specHash: manifest.specHash, files };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

export type ManifestFs = Pick<typeof nodeFs, 'readFileSync'>;

/**
 * The manifest of `outDir`, or undefined when there is none. A manifest that cannot be read or
 * does not have the expected shape throws a ManifestError naming the file.
 */
export function readManifest(outDir: string, fs: ManifestFs = nodeFs): Manifest | undefined {
  const file = join(outDir, MANIFEST_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw new ManifestError(file, `${file} cannot be read: ${(err as Error).message}.`, { cause: err });
  }
  const fix = 'It records which files streamspec owns; restore it from version control, or remove the folder and regenerate.';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ManifestError(file, `${file} is not valid JSON (${(err as Error).message}). ${fix}`, { cause: err });
  }
  const problem = manifestProblem(value);
  if (problem) throw new ManifestError(file, `${file} is not a streamspec manifest: ${problem}. ${fix}`);
  return value as Manifest;
}

function manifestProblem(value: unknown): string | undefined {
  if (!isRecord(value)) return 'expected an object';
  if (value['version'] !== 1) return `unsupported version ${JSON.stringify(value['version'])}, expected 1`;
  if (typeof value['spec'] !== 'string') return '`spec` is not a string';
  if (typeof value['specHash'] !== 'string' || !HEX64.test(value['specHash'])) return '`specHash` is not a sha256 hex digest';
  const files = value['files'];
  if (!isRecord(files)) return '`files` is not an object';
  for (const [path, entry] of Object.entries(files)) {
    const bad = badOutputPath(path);
    if (bad) return `file ${JSON.stringify(path)}: ${bad}`;
    if (!isRecord(entry) || typeof entry['sha256'] !== 'string' || !HEX64.test(entry['sha256'])) {
      return `file ${JSON.stringify(path)}: \`sha256\` is not a sha256 hex digest`;
    }
    const chunks = entry['chunks'];
    if (chunks !== undefined && (typeof chunks !== 'string' || !CHUNKS.test(chunks))) {
      return `file ${JSON.stringify(path)}: \`chunks\` is not a list of hash:length pairs`;
    }
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The formatted pieces of `path` as written last time, by the hash of their unformatted text,
 * when the manifest lists them and the file still has the bytes streamspec wrote; empty otherwise.
 * The pieces are the file's tail, joined by newlines, in the manifest's order.
 */
export function reusableChunks(outDir: string, manifest: Manifest | undefined, path: string, fs: ManifestFs = nodeFs): Map<string, string> {
  const out = new Map<string, string>();
  const entry = manifest && Object.hasOwn(manifest.files, path) ? manifest.files[path] : undefined;
  if (!entry?.chunks || badOutputPath(path)) return out;
  let text: string;
  try {
    const bytes = fs.readFileSync(join(outDir, ...path.split('/')));
    if (sha256(bytes) !== entry.sha256) return out;
    text = bytes.toString('utf8');
  } catch {
    return out;
  }
  const pieces = entry.chunks.split(',').map((p) => p.split(':') as [string, string]);
  let at = text.length - pieces.reduce((n, [, len]) => n + Number(len), 0) - (pieces.length - 1);
  if (at < 0) return out;
  for (const [hash, len] of pieces) {
    out.set(hash, text.slice(at, at + Number(len)));
    at += Number(len) + 1;
  }
  return out;
}
