// Writing generated output: all or nothing, and only over files streamspec owns. New contents go
// to a temp folder beside outDir (same filesystem, so renames are atomic), then each file is
// renamed into place; replaced and removed files are moved into the temp folder first, so a
// failure part-way can move everything back and leave the previous output byte-identical.

import * as nodeFs from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import {
  badOutputPath,
  compareStrings,
  MANIFEST_FILE,
  ManifestError,
  readManifest,
  serializeManifest,
  sha256,
  type Manifest,
  type ManifestEntry,
} from './manifest.ts';

export interface OutputFile {
  /** Relative to outDir, `/` separators. */
  readonly path: string;
  readonly content: string;
  /** The formatted pieces (`hash:length,...`); recorded so a later run can reuse them (see reusableChunks). */
  readonly chunks?: string;
}

export type WriteErrorCode = 'NOT_OWNED' | 'BAD_MANIFEST' | 'IO';

export type WriteResult =
  | { ok: true; written: string[]; unchanged: string[]; removed: string[] }
  | { ok: false; error: { code: WriteErrorCode; file: string; message: string } };

/** The filesystem calls writeOutput makes; tests pass one that fails on purpose. */
export type WriteFs = Pick<
  typeof nodeFs,
  'lstatSync' | 'readFileSync' | 'writeFileSync' | 'renameSync' | 'mkdirSync' | 'mkdtempSync' | 'rmdirSync' | 'rmSync' | 'realpathSync'
>;

type Step = { kind: 'mkdir' | 'tmp'; dir: string } | { kind: 'rename'; from: string; to: string };

class NotOwned extends Error {
  constructor(readonly file: string, message: string) {
    super(message);
  }
}

function lstat(fs: Pick<WriteFs, 'lstatSync'>, path: string): nodeFs.Stats | undefined {
  return fs.lstatSync(path, { throwIfNoEntry: false });
}

/** `a/b/c.ts` -> [`a`, `a/b`]. */
function ancestors(path: string): string[] {
  const parts = path.split('/');
  return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join('/'));
}

function checkPaths(files: readonly OutputFile[]): void {
  const seen = new Map<string, string>();
  for (const { path } of files) {
    const bad = badOutputPath(path);
    if (bad) throw new Error(`internal: bad output path ${JSON.stringify(path)}: ${bad}`);
    // Case-insensitive filesystems (macOS, Windows) would let one file overwrite the other.
    const key = path.toLowerCase();
    const other = seen.get(key);
    if (other !== undefined) throw new Error(`internal: output paths ${JSON.stringify(other)} and ${JSON.stringify(path)} collide`);
    seen.set(key, path);
  }
  for (const { path } of files) {
    for (const dir of ancestors(path)) {
      if (seen.has(dir.toLowerCase())) throw new Error(`internal: output path ${JSON.stringify(dir)} is also a folder of ${JSON.stringify(path)}`);
    }
  }
}

function notOwnedMessage(shown: string, what: string): string {
  return `${shown} ${what} and was not written by streamspec; move it away or choose another --out.`;
}

/**
 * Writes `files` into `outDir` and records them in its manifest. Refuses, writing nothing, when
 * a path it would write holds a file it does not own. Deletes files of the previous manifest
 * that are no longer generated, and nothing else. Files whose bytes are unchanged are not touched.
 */
export function writeOutput(
  outDir: string,
  files: readonly OutputFile[],
  meta: { spec: string; specHash: string },
  fs: WriteFs = nodeFs,
): WriteResult {
  checkPaths(files);
  const abs = (path: string) => join(outDir, ...path.split('/'));

  let previous: Manifest | undefined;
  try {
    previous = readManifest(outDir, fs);
  } catch (err) {
    if (err instanceof ManifestError) return { ok: false, error: { code: 'BAD_MANIFEST', file: MANIFEST_FILE, message: err.message } };
    throw err;
  }
  const owned = new Set(Object.keys(previous?.files ?? {}));
  const sorted = [...files].sort((a, b) => compareStrings(a.path, b.path));
  const generated = new Set(sorted.map((f) => f.path));

  // Plan, reading only: which files change, which go, and whether we may touch them at all.
  const changes: { path: string; content: string; replaces: boolean }[] = [];
  const unchanged: string[] = [];
  const removals: string[] = [];
  const refusals: NotOwned[] = [];
  try {
    for (const path of [...owned].filter((p) => !generated.has(p)).sort(compareStrings)) {
      // Only a regular file, reached through real folders, is still the one we wrote.
      if (ancestors(path).some((dir) => !lstat(fs, abs(dir))?.isDirectory())) continue;
      if (lstat(fs, abs(path))?.isFile()) removals.push(path);
    }
    const removed = new Set(removals);
    for (const file of sorted) {
      const blocker = ancestors(file.path).find((dir) => {
        const st = lstat(fs, abs(dir));
        return st !== undefined && !st.isDirectory() && !removed.has(dir);
      });
      if (blocker !== undefined) {
        refusals.push(new NotOwned(blocker, notOwnedMessage(abs(blocker), `exists where streamspec needs a folder for ${file.path}`)));
        continue;
      }
      const st = lstat(fs, abs(file.path));
      if (!st) changes.push({ path: file.path, content: file.content, replaces: false });
      else if (!st.isFile()) refusals.push(new NotOwned(file.path, notOwnedMessage(abs(file.path), 'exists, is not a regular file')));
      // A file that already holds exactly what would be written is taken as ours: that is what a
      // run killed between its renames and its manifest leaves, and adopting it changes no byte.
      else if (fs.readFileSync(abs(file.path)).equals(Buffer.from(file.content, 'utf8'))) unchanged.push(file.path);
      else if (!owned.has(file.path)) refusals.push(new NotOwned(file.path, notOwnedMessage(abs(file.path), 'exists')));
      else changes.push({ path: file.path, content: file.content, replaces: true });
    }
  } catch (err) {
    return { ok: false, error: { code: 'IO', file: outDir, message: `cannot read ${outDir}: ${(err as Error).message}.` } };
  }
  const [refusal] = refusals;
  if (refusal) {
    const more = refusals.length > 1 ? ` (${refusals.length - 1} more file(s) are in the same state.)` : '';
    return { ok: false, error: { code: 'NOT_OWNED', file: refusal.file, message: refusal.message + more } };
  }

  const entries: [string, ManifestEntry][] = sorted.map((f) => [
    f.path,
    f.chunks === undefined ? { sha256: sha256(f.content) } : { sha256: sha256(f.content), chunks: f.chunks },
  ]);
  const manifestText = serializeManifest({ version: 1, spec: meta.spec, specHash: meta.specHash, files: Object.fromEntries(entries) });
  const manifestPath = join(outDir, MANIFEST_FILE);
  let manifestSame = false;
  try {
    manifestSame = fs.readFileSync(manifestPath, 'utf8') === manifestText;
  } catch {
    // No manifest yet: it is written below.
  }
  const done = { ok: true as const, written: changes.map((c) => c.path), unchanged, removed: removals };
  if (changes.length === 0 && removals.length === 0 && manifestSame) return done;

  // Commit: every step is journaled so a failure can be undone in reverse order.
  const steps: Step[] = [];
  let tmp: string | undefined;
  let current = outDir;
  const rename = (from: string, to: string) => {
    fs.renameSync(from, to);
    steps.push({ kind: 'rename', from, to });
  };
  const mkdirs = (dir: string) => {
    const missing: string[] = [];
    for (let d = resolve(dir); !lstat(fs, d); d = dirname(d)) missing.unshift(d);
    for (const d of missing) {
      fs.mkdirSync(d);
      steps.push({ kind: 'mkdir', dir: d });
    }
  };
  try {
    mkdirs(outDir);
    const real = fs.realpathSync(outDir);
    tmp = fs.mkdtempSync(join(dirname(real), `.${basename(real)}.streamspec-`));
    steps.push({ kind: 'tmp', dir: tmp });
    const staged = changes.map((change, i) => {
      current = change.path;
      const file = join(tmp!, `new-${i}`);
      fs.writeFileSync(file, change.content);
      return file;
    });
    current = MANIFEST_FILE;
    fs.writeFileSync(join(tmp, 'new-manifest'), manifestText);

    removals.forEach((path, i) => {
      current = path;
      rename(abs(path), join(tmp!, `old-removed-${i}`));
    });
    changes.forEach((change, i) => {
      current = change.path;
      mkdirs(dirname(abs(change.path)));
      if (change.replaces) rename(abs(change.path), join(tmp!, `old-${i}`));
      rename(staged[i]!, abs(change.path));
    });
    // Last: until every file is in place the old manifest still describes what is on disk.
    current = MANIFEST_FILE;
    if (!manifestSame) {
      if (lstat(fs, manifestPath)) rename(manifestPath, join(tmp, 'old-manifest'));
      rename(join(tmp, 'new-manifest'), manifestPath);
    }
  } catch (err) {
    const undoFailures = undo(fs, steps);
    const cause = (err as Error).message;
    if (undoFailures.length > 0) {
      // Keep the temp folder: it holds the backups still needed to restore the output by hand.
      return {
        ok: false,
        error: {
          code: 'IO',
          file: current,
          message:
            `could not write ${current}: ${cause}. Restoring the previous output also failed (${undoFailures.join('; ')}); ` +
            `its files are backed up in ${tmp ?? outDir}.`,
        },
      };
    }
    return { ok: false, error: { code: 'IO', file: current, message: `could not write ${current}: ${cause}. The previous output is unchanged; fix the cause and run again.` } };
  }

  removeQuietly(fs, tmp);
  // Folders emptied by removals go too; rmdir refuses any folder that still holds something.
  for (const path of removals) {
    for (const dir of ancestors(path).reverse()) {
      try {
        fs.rmdirSync(abs(dir));
      } catch {
        break;
      }
    }
  }
  return done;
}

function undo(fs: WriteFs, steps: readonly Step[]): string[] {
  const failures: string[] = [];
  for (const step of [...steps].reverse()) {
    try {
      if (step.kind === 'rename') fs.renameSync(step.to, step.from);
      // The temp folder goes only when every backup in it has been moved back.
      else if (step.kind === 'tmp') {
        if (failures.length === 0) fs.rmSync(step.dir, { recursive: true, force: true });
      } else fs.rmdirSync(step.dir);
    } catch (err) {
      failures.push((err as Error).message);
    }
  }
  return failures;
}

/** The output is complete by now; a temp folder left behind is untidy, not wrong. */
function removeQuietly(fs: WriteFs, dir: string): void {
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch {
    // Nothing to do: the next run uses a fresh temp folder.
  }
}

/**
 * What `writeOutput` would change, for `streamspec check`; never writes. `stale`: on disk with
 * other bytes; `missing`: not on disk; `extra`: in the manifest, on disk, no longer generated.
 * A corrupt manifest throws a ManifestError.
 */
export function diffOutput(
  outDir: string,
  files: readonly OutputFile[],
  fs: Pick<WriteFs, 'lstatSync' | 'readFileSync'> = nodeFs,
): { stale: string[]; missing: string[]; extra: string[] } {
  checkPaths(files);
  const abs = (path: string) => join(outDir, ...path.split('/'));
  const stale: string[] = [];
  const missing: string[] = [];
  for (const file of [...files].sort((a, b) => compareStrings(a.path, b.path))) {
    if (!lstat(fs, abs(file.path))?.isFile()) missing.push(file.path);
    else if (!fs.readFileSync(abs(file.path)).equals(Buffer.from(file.content, 'utf8'))) stale.push(file.path);
  }
  const generated = new Set(files.map((f) => f.path));
  const extra = Object.keys(readManifest(outDir, fs)?.files ?? {})
    .filter((path) => !generated.has(path) && lstat(fs, abs(path))?.isFile())
    .sort(compareStrings);
  return { stale, missing, extra };
}
