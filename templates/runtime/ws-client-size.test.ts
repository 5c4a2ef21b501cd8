import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { expect, it } from 'vitest';

// The budget for the WebSocket browser client of one stream with everything: ws-client.ts and
// errors.ts (client.ts gives types only), plus a generated-style wrapper, minified and gzipped.
// Issue 4's target: at most 3 KB (`reconnecting-websocket` alone is 3.3 KB).
const BUDGET = 3072;

it(`bundles the WebSocket client of one stream in at most ${BUDGET} bytes gzipped`, async () => {
  const result = await build({
    stdin: {
      // What a generated client.ts holds for one stream (see templates/client/websocket.ts.hbs).
      contents: [
        "import { openWsStream } from './ws-client.ts';",
        'export const openRoom = (client: any, args: any) =>',
        "  openWsStream(client, { path: '/v1/rooms/' + encodeURIComponent(String(args.params.roomId)), request: args.request, terminal: 'closed', idleMs: 60000, resume: true, credits: 32, codes: ['FORBIDDEN', 'ROOM_FULL', 'MESSAGE_TOO_LONG', 'INTERNAL', 'INVALID_REQUEST', 'RESUME_EXPIRED'] }, args);",
        "export { StreamError, StreamInterruptedError, StreamProtocolError } from './errors.ts';",
      ].join('\n'),
      resolveDir: fileURLToPath(new URL('.', import.meta.url)),
      loader: 'ts',
    },
    bundle: true,
    minify: true,
    format: 'esm',
    write: false,
    logLevel: 'silent',
  });
  const text = result.outputFiles[0]!.text;
  const bytes = gzipSync(result.outputFiles[0]!.contents, { level: 9 }).length;
  console.log(`ws client bundle: ${text.length} bytes minified, ${bytes} bytes gzipped (budget ${BUDGET})`);
  // Types only from the HTTP client: none of its code (fetch, the SSE id check) may ride along.
  expect(text).not.toContain('fetch');
  expect(text).toContain('streamspec.v1');
  expect(bytes).toBeLessThanOrEqual(BUDGET);
});
