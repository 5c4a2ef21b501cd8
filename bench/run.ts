// `npm run bench`: the code-generation bench, then the HTTP streaming, WebSocket and gRPC benches,
// each in its own process. Arguments go to the codegen bench (`--sizes 10,100`); `--json` goes to
// all, and their rows are printed together as one JSON object `{ "codegen": [...], "http": [...], ... }`.

import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const json = args.includes('--json');

function run(file: string, argv: readonly string[]): string {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'run-ts.js'), join(ROOT, 'bench', file), ...argv], {
    cwd: ROOT,
    stdio: ['inherit', json ? 'pipe' : 'inherit', 'inherit'],
    encoding: 'utf8',
    maxBuffer: 64 * 2 ** 20,
  });
  if (r.status !== 0) {
    process.stderr.write(`bench: ${file} failed (${r.status ?? r.signal})\n`);
    process.exit(1);
  }
  return r.stdout ?? '';
}

const codegen = run('codegen.bench.ts', args);
const http = run('http.bench.ts', json ? ['--json'] : []);
const ws = run('ws.bench.ts', json ? ['--json'] : []);
const grpc = run('grpc.bench.ts', json ? ['--json'] : []);
if (json) process.stdout.write(`${JSON.stringify({ codegen: JSON.parse(codegen), http: JSON.parse(http), ws: JSON.parse(ws), grpc: JSON.parse(grpc) }, null, 2)}\n`);
