// What the conformance tests share: running generated suites as a user would (a vitest child
// with its own config, pointed at a server by STREAMSPEC_BASE_URL), and judging a server
// in-process with the checks, by check name.

import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { ROOT, workDir } from './tools.ts';

const run = promisify(execFile);

/**
 * Runs the suites under `root` (a generated output folder; `include` picks the files) against
 * `baseUrl` in a vitest child, asynchronously: the server under test usually runs in this process
 * and must go on answering. `fixtures`: the STREAMSPEC_FIXTURES file, if any.
 */
export function runSuites(name: string, root: string, baseUrl: string, options: { include?: string; fixtures?: string } = {}): Promise<{ status: number; out: string }> {
  const dir = workDir(`conformance-${name}`);
  const config = join(dir, 'vitest.config.mjs');
  // cacheDir: vitest would otherwise keep its results under the root, inside generated/.
  writeFileSync(
    config,
    `export default { cacheDir: ${JSON.stringify(join(dir, 'cache'))}, test: { root: ${JSON.stringify(root)}, include: [${JSON.stringify(options.include ?? 'conformance/*.conformance.test.ts')}], testTimeout: 30000 } };\n`,
  );
  return run(process.execPath, [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--config', config, '--reporter', 'verbose'], {
    cwd: ROOT,
    env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1', STREAMSPEC_BASE_URL: baseUrl, STREAMSPEC_FIXTURES: options.fixtures ?? '' },
    encoding: 'utf8',
    timeout: 120_000,
  }).then(
    (r) => ({ status: 0, out: `${r.stdout}\n${r.stderr}` }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({ status: e.code ?? 1, out: `${e.stdout}\n${e.stderr}` }),
  );
}

/** What a check of any generated copy of runtime/conformance.ts looks like. */
interface AnyCheck {
  readonly name: string;
  run(ctx: { baseUrl: string; timeoutMs?: number }): Promise<{ ok: true } | { skipped: string }>;
}

/**
 * Runs the checks (all, or those named in `only`) against `baseUrl`: what failed, by check name,
 * and what was skipped. A violation must name the check that raised it; anything else is thrown.
 */
export async function judge(checks: readonly AnyCheck[], baseUrl: string, only?: readonly string[]) {
  const failed = new Map<string, string>();
  const skipped = new Map<string, string>();
  for (const check of checks) {
    if (only && !only.includes(check.name)) continue;
    try {
      const r = await check.run({ baseUrl, timeoutMs: 10_000 });
      if ('skipped' in r) skipped.set(check.name, r.skipped);
    } catch (e) {
      // By name: each generated output has its own copy of the ConformanceViolation class.
      if (!(e instanceof Error && e.name === 'ConformanceViolation')) throw e;
      expect((e as Error & { check?: string }).check).toBe(check.name);
      failed.set(check.name, e.message);
    }
  }
  return { failed, skipped };
}
