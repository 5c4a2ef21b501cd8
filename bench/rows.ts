// What the streaming benches (http, ws, grpc) share: the row shape, the statistics, and how the
// rows are printed — a table and PASS/FAIL verdicts, or JSON rows for `--json`.

import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

export interface Row {
  readonly case: string;
  /** The transport the row measures; `-` for a row about none in particular. */
  readonly transport: string;
  readonly value: number;
  readonly unit: string;
  readonly target: string | null;
  readonly pass: boolean | null;
  readonly note: string;
}

export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

export const percentile = (xs: readonly number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

function table(rs: readonly Row[]): string {
  const head = ['case', 'transport', 'value', 'unit', 'target', 'result', 'note'];
  const body = rs.map((r) => [r.case, r.transport, String(r.value), r.unit, r.target ?? '', r.pass === null ? '' : r.pass ? 'PASS' : 'FAIL', r.note]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/** Prints the rows: JSON on stdout with the verdicts on stderr (`json`), else the table and the verdicts. */
export function printRows(rows: readonly Row[], name: string, startedMs: number, json: boolean): void {
  const verdicts = rows.filter((r) => r.pass !== null).map((r) => `${r.pass ? 'PASS' : 'FAIL'} ${r.case} (${r.transport}): ${r.value} ${r.unit}, target ${r.target}`);
  verdicts.push(`${name} bench took ${((performance.now() - startedMs) / 1000).toFixed(1)} s`);
  if (json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    process.stderr.write(`${verdicts.join('\n')}\n`);
  } else process.stdout.write(`${table(rows)}\n\n${verdicts.join('\n')}\n`);
}

/** The row for a client bundle: `entry` (code importing one stream's client) bundled, minified and gzipped. */
export async function bundleRow(entry: string, resolveDir: string, transport: string, targetBytes: number, what: string): Promise<Row> {
  const result = await build({
    stdin: { contents: entry, resolveDir, loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    write: false,
    logLevel: 'silent',
  });
  const out = result.outputFiles[0]!.contents;
  const gz = gzipSync(out, { level: 9 }).length;
  return {
    case: 'client bundle, one stream',
    transport,
    value: gz,
    unit: 'B gzip',
    target: `<= ${targetBytes} B`,
    pass: gz <= targetBytes,
    note: `${out.length} B minified (esbuild), ${what}`,
  };
}
