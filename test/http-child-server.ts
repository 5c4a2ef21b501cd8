// A generated assistant server with the example handlers in a process of its own, so a test can
// kill it outright (SIGKILL) and start another on the same port. Run through bin/run-ts.js:
//   node bin/run-ts.js test/http-child-server.ts <port> <delayMs>
// Its first line on stdout is `listening <port>`.

import { createServer } from 'node:http';
import { createHandlers } from '../examples/assistant/handlers.ts';
import { createRouter } from '../generated/assistant/server.ts';

const [port = '0', delayMs = '0'] = process.argv.slice(2);
const router = createRouter(createHandlers({ delayMs: Number(delayMs) }), {
  authenticate: () => ({ id: 'test' }),
  retryMs: 20,
  onError: () => {},
});
const server = createServer(router.node);
server.listen(Number(port), '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : port}\n`);
});
