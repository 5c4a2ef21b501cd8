// `streamspec check --breaking`: `buf breaking` of the proto the contract generates now against
// the one already in the output folder (what clients were built from). Additive edits pass;
// removals, renumbering and type changes fail with buf's own messages. The rule set is the
// generated buf.yaml's (FILE).

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { generate, type GenerateOptions, type GenerateResult } from './generate.ts';
import { BufError, runBuf } from './targets/grpc.ts';

export interface BreakingOptions {
  /** Compare with the proto committed at this git ref (branch, tag, commit) instead of the output folder's. */
  readonly againstRef?: string;
}

export type BreakingResult =
  /** Compared: `problems` are buf's lines (empty when nothing breaks), paths under the output folder. */
  | { readonly kind: 'compared'; readonly ok: boolean; readonly problems: readonly string[]; readonly against: string; readonly generate: GenerateResult }
  /** Nothing to compare with: the output folder has no generated proto yet. */
  | { readonly kind: 'no-baseline'; readonly ok: true; readonly against: string; readonly generate: GenerateResult }
  /** The contract does not generate (see `generate.diagnostics`), or buf could not run (`message`). */
  | { readonly kind: 'failed'; readonly ok: false; readonly message: string; readonly generate: GenerateResult };

/**
 * Renders the contract in memory (nothing is written) and runs `buf breaking` of its proto
 * against `<out>/proto`. Options are generate's (`out` defaults to `generated/<spec name>`).
 */
export async function checkBreaking(opts: Omit<GenerateOptions, 'dryRun' | 'sdk'> & BreakingOptions): Promise<BreakingResult> {
  const { againstRef, ...generateOptions } = opts;
  const cwd = opts.cwd ?? process.cwd();
  const result = await generate({ ...generateOptions, dryRun: true });
  if (!result.ok || result.outDir === undefined) {
    const message = result.write && !result.write.ok ? result.write.error.message : 'the contract has errors';
    return { kind: 'failed', ok: false, message, generate: result };
  }
  const againstDir = join(resolve(cwd, result.outDir), 'proto');
  let against = relative(cwd, againstDir) || '.';
  let input = againstDir;
  if (againstRef !== undefined) {
    // The proto as committed at that ref: what released clients were built from, even after the
    // output folder was regenerated.
    const root = gitRoot(cwd);
    if (!root) return { kind: 'failed', ok: false, message: `--against ${againstRef} needs a git repository, and ${cwd} is not in one`, generate: result };
    const subdir = relative(root, againstDir).split('\\').join('/');
    input = `${join(root, '.git')}#ref=${againstRef},subdir=${subdir}`;
    against = `${subdir} at ${againstRef}`;
  } else if (!existsSync(join(againstDir, 'buf.yaml'))) return { kind: 'no-baseline', ok: true, against, generate: result };

  const dir = mkdtempSync(join(tmpdir(), 'streamspec-breaking-'));
  try {
    for (const f of result.files) {
      if (!f.path.startsWith('proto/') || !(f.path.endsWith('.proto') || f.path.endsWith('buf.yaml'))) continue;
      const path = join(dir, f.path.slice('proto/'.length));
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, f.content);
    }
    try {
      // Run inside the new module so buf names files relative to it.
      await runBuf(['breaking', '.', '--against', input, '--error-format', 'text'], dir);
      return { kind: 'compared', ok: true, problems: [], against, generate: result };
    } catch (e) {
      if (!(e instanceof BufError)) throw e;
      // buf prints one `file:line:col:message` a line; the position is in the proto generate would
      // write now, which lands at the same path in the output folder.
      const lines = e.message
        .split('\n')
        .slice(1)
        .filter((l) => /^[^\s:]+\.proto:\d+:\d+:/.test(l))
        .map((l) => `${relative(cwd, againstDir) || '.'}/${l}`);
      if (lines.length === 0) return { kind: 'failed', ok: false, message: e.message, generate: result };
      return { kind: 'compared', ok: false, problems: lines, against, generate: result };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function gitRoot(cwd: string): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', '--show-toplevel'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}
