import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { expect, it } from 'vitest';

// The budget: the browser client for one stream with everything (client.ts,
// sse-source.ts, errors.ts and eventsource-parser, about 930 bytes of it), minified and gzipped.
// The entry is what the generated client.ts holds for one stream, so the page is counted, not
// only the runtime (bench/http.bench.ts measures the real generated file the same way).
const BUDGET = 2560;

const ONE_STREAM = `
import { openStream } from './client.ts';
import { sse } from './sse-source.ts';
export function openCompletion(client, args) {
  return openStream(client, args, '/v1/conversations/' + encodeURIComponent(args.params.conversationId) + '/completion', 'done', 45000, true, sse);
}
`;

it(`bundles the SSE client of one stream in at most ${BUDGET} bytes gzipped`, async () => {
  const result = await build({
    stdin: { contents: ONE_STREAM, resolveDir: fileURLToPath(new URL('.', import.meta.url)), loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    write: false,
    logLevel: 'silent',
  });
  const bytes = gzipSync(result.outputFiles[0]!.contents, { level: 9 }).length;
  console.log(`client bundle: ${result.outputFiles[0]!.contents.length} bytes minified, ${bytes} bytes gzipped (budget ${BUDGET})`);
  // The parser must be in the bundle, not left as an import the size would not count.
  expect(result.outputFiles[0]!.text).not.toContain('eventsource-parser');
  expect(bytes).toBeLessThanOrEqual(BUDGET);
});
