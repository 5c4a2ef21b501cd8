import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { expect, it } from 'vitest';

// The budget for the browser client of one stream with everything: client.ts, sse-source.ts,
// errors.ts and eventsource-parser (about 930 bytes of it), minified and gzipped.
const BUDGET = 2560;

it(`bundles the SSE client in at most ${BUDGET} bytes gzipped`, async () => {
  const result = await build({
    stdin: {
      contents: "export { openStream } from './client.ts';\nexport { sse } from './sse-source.ts';\n",
      resolveDir: fileURLToPath(new URL('.', import.meta.url)),
      loader: 'ts',
    },
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
