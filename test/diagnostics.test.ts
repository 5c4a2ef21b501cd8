// One case per SS2xx and SS3xx code: the exact text and position a user sees. (SS1xx codes are
// tested beside the shape check, in generator/check/shape.test.ts.)

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatText } from '../generator/diagnostics.ts';
import type { Transport } from '../generator/ir/types.ts';
import { lintSpec } from '../generator/pipeline.ts';

const dir = (() => {
  mkdirSync(join(import.meta.dirname, '.work'), { recursive: true });
  return mkdtempSync(join(import.meta.dirname, '.work', 'diag-'));
})();

/** A valid contract; each case replaces the stream body's lines. */
function contract(stream: string, extra = ''): string {
  return `streamspec: "1.0"
info: { title: T, version: 1.0.0 }
package: t.v1
streams:
  feed:
${stream
  .trim()
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}
${extra}`;
}

const BASE = `path: /v1/feed/{id}
direction: server-to-client
producer: server
consumer: browser
params:
  id: { type: string }
messages:
  item: { type: object }
termination: { message: done }
backpressure: { strategy: pull }`;

const edit = (from: string, to: string) => {
  if (!BASE.includes(from)) throw new Error(`fixture: ${from}`);
  return BASE.replace(from, to);
};

const cases: [string, { given: string; transport?: Transport; want: string }][] = [
  [
    'SS201 no termination message',
    {
      given: edit('termination: { message: done }\n', ''),
      want: 'spec.yaml:5:3 error SS201 stream "feed" has no termination message, so a client cannot tell the end of the stream from a dropped connection. Add termination: { message: done } (and a payload schema if the end carries data).',
    },
  ],
  [
    'SS202 drop without lossy',
    { given: edit('backpressure: { strategy: pull }', 'backpressure: { strategy: drop-oldest, buffer: 8 }'), want: 'spec.yaml:15:5 error SS202 stream "feed" uses backpressure strategy "drop-oldest", which discards messages, but the stream is not marked lossy. Add lossy: true if consumers may miss messages, or use pull or block.' },
  ],
  [
    'SS203 resume without retention',
    { given: `${BASE}\nresume: { strategy: last-event-id }`, want: 'spec.yaml:16:5 error SS203 resume strategy "last-event-id" has no bound on what the server keeps for replay, so its memory would grow without limit. Add retention: { messages: 1000, seconds: 300 } (messages is required).' },
  ],
  [
    'SS204 heartbeat timeout not above interval',
    { given: `${BASE}\nheartbeat: { interval: 15s, timeout: 15s }`, want: 'spec.yaml:16:5 error SS204 stream "feed" has heartbeat timeout 15s, not longer than its interval 15s, so a healthy connection would be taken for dead. Set timeout to at least 30s.' },
  ],
  [
    'SS205 heartbeat timeout under two intervals',
    { given: `${BASE}\nheartbeat: { interval: 20s, timeout: 30s }`, want: 'spec.yaml:16:5 warning SS205 stream "feed" has heartbeat timeout 30s, under twice its interval 20s, so one late heartbeat forces a reconnect. Set timeout to at least 40s.' },
  ],
  [
    'SS206 names collide after case conversion',
    { given: edit('item: { type: object }', 'user_joined: { type: object }\n  userJoined: { type: object }'), want: 'spec.yaml:14:7 error SS206 message "userJoined" and "user_joined" (line 13) both become "userJoined" after case conversion. Rename one of them.' },
  ],
  [
    'SS207 path parameter not declared',
    { given: edit('path: /v1/feed/{id}', 'path: /v1/feed/{id}/{part}'), want: 'spec.yaml:6:11 error SS207 path /v1/feed/{id}/{part} uses parameter "part", which stream "feed" does not declare. Add it under params (for example part: { type: string }), or remove it from the path.' },
  ],
  [
    'SS208 declared parameter not in path',
    { given: edit('path: /v1/feed/{id}', 'path: /v1/feed'), want: 'spec.yaml:11:7 error SS208 parameter "id" is declared but path /v1/feed does not use it. Add {id} to the path, or move it into the request.' },
  ],
  [
    'SS209 unresolved ref',
    { given: edit('item: { type: object }', "item: { $ref: '#/components/schemas/Itme' }"), want: 'spec.yaml:13:21 error SS209 $ref "#/components/schemas/Itme" does not resolve: there is no key "components" in the document. Fix the name in the $ref, or add "components" at the top level.' },
  ],
  [
    'SS109 name that cannot be an identifier',
    {
      given: edit('item: { type: object }', '0item: { type: object }'),
      want: 'spec.yaml:13:7 error SS109 message "0item" cannot be an identifier in TypeScript and proto. Start it with an ASCII letter and use only letters, digits, "_", "-" and ".".',
    },
  ],
  [
    'SS210 sample without interval',
    { given: edit('backpressure: { strategy: pull }', 'backpressure: { strategy: sample }\nlossy: true'), want: 'spec.yaml:15:5 error SS210 sample backpressure needs "interval", how often the latest value is sent. Add interval: 250ms (or another duration).' },
  ],
  [
    'SS211 direction and producer disagree',
    { given: edit('producer: server', 'producer: client'), want: 'spec.yaml:5:3 error SS211 stream "feed" is server-to-client but names producer client. Use producer: server, or change the direction.' },
  ],
  [
    'SS212 in-band errors without a message name',
    { given: `${BASE}\nerrors: { mode: in-band }`, want: 'spec.yaml:16:5 error SS212 stream "feed" has in-band errors but no error message name, so an error cannot travel as a message. Add message: problem (or another name) under errors.' },
  ],
  [
    'SS213 termination named like a message',
    { given: edit('termination: { message: done }', 'termination: { message: item }'), want: 'spec.yaml:14:29 error SS213 termination message "item" of stream "feed" is also one of its messages, so the end could not be told from data. Give the terminal message its own name.' },
  ],
  [
    'SS215 credits above buffer',
    { given: edit('backpressure: { strategy: pull }', 'backpressure: { strategy: credit, credits: 64, buffer: 16 }'), transport: 'grpc', want: 'spec.yaml:15:5 error SS215 stream "feed" grants 64 credits but buffers at most 16 messages, so granted messages could not be held. Set credits to at most buffer.' },
  ],
  [
    'SS301 bidirectional over SSE',
    { given: edit('direction: server-to-client\nproducer: server', 'direction: bidirectional\nproducer: both\nclientMessages:\n  say: { type: object }'), want: 'spec.yaml:5:3 error SS301 stream "feed" is bidirectional, but SSE carries only server-to-client streams. Use --transport websocket (or grpc for service consumers).' },
  ],
  [
    'SS302 credit over NDJSON',
    { given: edit('backpressure: { strategy: pull }', 'backpressure: { strategy: credit, credits: 8 }'), transport: 'ndjson', want: 'spec.yaml:15:5 error SS302 stream "feed" uses credit backpressure, but NDJSON has no channel from client to server to carry credit grants. Use pull (the connection\'s own flow control), or --transport websocket.' },
  ],
  [
    'SS303 out-of-band errors over SSE',
    { given: `${BASE}\nerrors: { mode: out-of-band, codes: [GONE] }`, want: 'spec.yaml:16:5 error SS303 stream "feed" has out-of-band errors, but SSE has no status a browser can read once the stream has started. Use mode: fail-fast (an error frame, then close) or in-band.' },
  ],
  [
    'SS304 gRPC client streaming to a browser',
    { given: edit('direction: server-to-client\nproducer: server', 'direction: client-to-server\nproducer: client\nclientMessages:\n  say: { type: object }'), transport: 'grpc', want: 'spec.yaml:5:3 error SS304 stream "feed" is client-to-server with a browser consumer, but browsers can use gRPC only for server-to-client streams. Use --transport websocket, or set consumer: service.' },
  ],
  [
    'SS305 WebSocket for a one-way stream',
    { given: BASE, transport: 'websocket', want: 'spec.yaml:5:3 warning SS305 stream "feed" only flows from server to client, which WebSocket can carry but SSE carries with native reconnect and plain HTTP. Consider --transport sse.' },
  ],
  [
    'SS306 last-event-id over NDJSON',
    { given: `${BASE}\nresume: { strategy: last-event-id, retention: { messages: 100 } }`, transport: 'ndjson', want: 'spec.yaml:16:5 warning SS306 stream "feed" resumes by last-event-id, but NDJSON\'s native resume is token; the generated code resumes by token. Write strategy: token to say what happens.' },
  ],
];

/** Two streams on one path: needs a second stream, so it is a whole contract of its own. */
it('SS214 two streams on one path', () => {
  const second = BASE.replace('{id}', '{other}').replace('id: { type: string }', 'other: { type: string }');
  writeFileSync(join(dir, 'SS214.yaml'), contract(BASE, `  again:\n${second.split('\n').map((l) => `    ${l}`).join('\n')}\n`));
  const r = lintSpec('SS214.yaml', { cwd: dir });
  expect(formatText(r.diagnostics, r.sources).split('\n').filter((l) => /^\S/.test(l))).toEqual([
    'SS214.yaml:17:11 error SS214 stream "again" has the same path as stream "feed" (/v1/feed/{id}), so a request could not be routed. Give each stream its own path.',
  ]);
});

describe('discipline and transport-fit diagnostics', () => {
  it.each(cases)('%s', (name, { given, transport, want }) => {
    const file = join(dir, `${name.slice(0, 5)}.yaml`);
    writeFileSync(file, contract(given));
    const r = lintSpec(`${name.slice(0, 5)}.yaml`, { cwd: dir, ...(transport ? { transport } : {}) });
    const lines = formatText(r.diagnostics, r.sources).split('\n').filter((l) => /^\S/.test(l));
    expect(lines.map((l) => l.replace(/^SS\d+\.yaml/, 'spec.yaml'))).toEqual([want]);
  });
});
