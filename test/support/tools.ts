// Shared helpers for end-to-end tests: temp folders, running the CLI, tsc and buf as real
// processes, and reading a folder into a map for byte comparisons.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'node_modules', '.bin');

/** A fresh folder under test/.work (git-ignored), named after the test. */
export function workDir(name: string): string {
  const base = join(ROOT, 'test', '.work');
  mkdirSync(base, { recursive: true });
  return mkdtempSync(join(base, `${name}-`));
}

export function writeFiles(dir: string, files: Readonly<Record<string, string>>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
}

/** Every file under `dir` (relative path -> bytes as text), for exact comparisons. */
export function readTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(relative(dir, p).split('\\').join('/'), readFileSync(p, 'utf8'));
    }
  };
  walk(dir);
  return out;
}

/** mtimes of every file under `dir`, to show nothing was touched. */
export function mtimes(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const path of readTree(dir).keys()) out.set(path, statSync(join(dir, path)).mtimeMs);
  return out;
}

export interface Run {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `streamspec` as a user would, through its bin, in `cwd`. */
export function cli(args: readonly string[], cwd: string): Run {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'streamspec.js'), ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** `buf <args>` from the npm package; returns status and output instead of throwing. */
export function buf(args: readonly string[], cwd: string): Run {
  const r = spawnSync(join(BIN, 'buf'), [...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Type-checks `files` (absolute paths) with `tsc --strict --noEmit` as the user's project would
 * (ESM, NodeNext). Returns tsc's diagnostics, one per line; empty when clean.
 */
export function typecheck(name: string, files: readonly string[], extra: Record<string, unknown> = {}): string[] {
  const dir = workDir(`tsc-${name}`);
  const config = {
    compilerOptions: {
      strict: true,
      noEmit: true,
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      lib: ['ES2023', 'DOM', 'DOM.Iterable'],
      types: ['node'],
      typeRoots: [join(ROOT, 'node_modules', '@types')],
      skipLibCheck: true,
      noUncheckedIndexedAccess: true,
      ...extra,
    },
    files,
  };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(config, null, 2));
  try {
    execFileSync(join(BIN, 'tsc'), ['-p', dir], { cwd: ROOT, encoding: 'utf8', timeout: 180_000 });
    return [];
  } catch (e) {
    const out = (e as { stdout?: string }).stdout ?? String(e);
    return out.split('\n').filter((l) => l.trim());
  }
}
