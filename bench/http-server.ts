// The server side of the http bench's memory row, in a process of its own so its RSS is its own:
// the generated assistant server (SSE) whose `completion` handler yields ~100-byte tokens for as
// long as it is pulled. Run through bin/run-ts.js; prints `listening <port>` first, then one JSON
// line `{ "rss": bytes, "produced": n }` every `sampleMs`.

import { createServer } from 'node:http';
import { createRouter, type AssistantHandlers } from '../generated/assistant/server.ts';

const sampleMs = Number(process.argv[2] ?? 250);
let produced = 0;
const text = 'x'.repeat(40);

const handlers: AssistantHandlers = {
  async *completion({ signal }) {
    for (let i = 0; !signal.aborted; i++) {
      produced++;
      yield { type: 'token', data: { text, index: i } };
    }
    return { type: 'done', data: { finishReason: 'cancelled' } };
  },
  async *history() {
    return { type: 'end', data: { count: 0 } };
  },
};

const server = createServer(createRouter(handlers, { authenticate: () => ({ id: 'test' }), onError: () => {} }).node);
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`);
  setInterval(() => process.stdout.write(`${JSON.stringify({ rss: process.memoryUsage().rss, produced })}\n`), sampleMs);
});
// The bench closes stdin when it is done: no orphan survives a crashed parent.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
