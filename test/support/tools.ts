// Shared helpers for end-to-end tests: temp folders, running the CLI, tsc and buf as real
// processes, and reading a folder into a map for byte comparisons.

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'node_modules', '.bin');

const created: string[] = [];

/** A fresh folder under test/.work (git-ignored), named after the test. */
export function workDir(name: string): string {
  const base = join(ROOT, 'test', '.work');
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(join(base, `${name}-`));
  created.push(dir);
  return dir;
}

/** Removes the folders `workDir` made in this test file; call it from `afterAll`. */
export function removeWorkDirs(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
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
 * Type-checks generated files with `tsc --strict` (plus `noUncheckedIndexedAccess`) as the user's
 * project would compile them (ESM, NodeNext, DOM and Node types), in process. `files` are absolute
 * paths, or file texts to write into a fresh work folder first. Returns `file:line:col message`
 * lines; empty when clean.
 */
export function typecheck(name: string, files: readonly string[] | Readonly<Record<string, string>>): string[] {
  const dir = workDir(`tsc-${name}`);
  const paths = Array.isArray(files)
    ? (files as readonly string[])
    : Object.entries(files).map(([file, text]) => {
        mkdirSync(dirname(join(dir, file)), { recursive: true });
        writeFileSync(join(dir, file), text);
        return join(dir, file);
      });
  const program = ts.createProgram([...paths], {
    strict: true,
    noUncheckedIndexedAccess: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2023.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
    types: ['node'],
    typeRoots: [join(ROOT, 'node_modules', '@types')],
  });
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (!d.file || d.start === undefined) return text;
    const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
    return `${relative(ROOT, d.file.fileName)}:${line + 1}:${character + 1} ${text}`;
  });
}
