// One case per SS4xx code: the exact text and position a user sees for an AsyncAPI document.

import { afterAll, describe, expect, it } from 'vitest';
import { lintSpec } from '../generator/pipeline.ts';
import { removeWorkDirs, workDir, writeFiles } from './support/tools.ts';

afterAll(removeWorkDirs);

/** A 3.0 document: `body` holds everything after info. */
const v3 = (body: string) => `asyncapi: 3.0.0\ninfo: { title: T, version: 1.0.0 }\n${body.trim()}\n`;

/** One channel, one send operation, with `ext` as its x-streamspec lines (indented under the channel). */
const sendOne = (ext: string, extra = '') =>
  v3(`
channels:
  feed:
    address: /feed
    messages:
      item: { payload: { type: object } }
${ext
  .trim()
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}
operations:
  sendFeed:
    action: send
    channel: { $ref: '#/channels/feed' }
${extra}`);

const COMPLETE = `x-streamspec:
  consumer: browser
  backpressure: { strategy: pull }
  termination: { message: done }`;

function lint(text: string, assumeDefaults = false): string[] {
  const dir = workDir('asyncapi-diag');
  writeFiles(dir, { 'api.yaml': text });
  const r = lintSpec('api.yaml', { cwd: dir, assumeDefaults });
  return r.diagnostics.map((d) => `${d.file}:${d.line}:${d.col} ${d.severity} ${d.code} ${d.message}`);
}

const cases: [string, { given: string; assumeDefaults?: boolean; want: string }][] = [
  [
    'SS401 an unknown x-streamspec field',
    {
      given: sendOne(COMPLETE.replace('backpressure:', 'backpresure:')),
      want: 'api.yaml:10:7 error SS401 x-streamspec.backpresure is not an x-streamspec field here. Did you mean "backpressure"?',
    },
  ],
  [
    'SS401 a value not allowed',
    {
      given: sendOne(COMPLETE.replace('consumer: browser', 'consumer: browsers')),
      want: 'api.yaml:9:17 error SS401 x-streamspec.consumer is "browsers", which is not one of: browser, service. Did you mean "browser"?',
    },
  ],
  [
    'SS402 an AsyncAPI version streamspec does not read',
    {
      given: sendOne(COMPLETE).replace('asyncapi: 3.0.0', 'asyncapi: 1.2.0'),
      want: 'api.yaml:1:11 error SS402 asyncapi is "1.2.0", but streamspec reads AsyncAPI 3.0 and 2.0 to 2.6 only. Write the document in AsyncAPI 3.0 (the AsyncAPI converter upgrades older ones).',
    },
  ],
  [
    'SS403 an operation action that is not send or receive',
    {
      given: sendOne(COMPLETE).replace('action: send', 'action: publish'),
      want: 'api.yaml:14:13 error SS403 operations.sendFeed.action is "publish". Write send (the application sends) or receive (the application receives).',
    },
  ],
  [
    'SS404 no operation at all',
    {
      given: v3(`channels:\n  feed:\n    address: /feed\n    messages:\n      item: { payload: { type: object } }`),
      want: 'api.yaml:3:1 error SS404 the document has no operation, so there is no stream to generate. Add one for a channel, or give a channel x-streamspec.direction.',
    },
  ],
  [
    'SS405 a channel with no operation',
    {
      given: sendOne(COMPLETE).replace('operations:', '  other:\n    address: /other\noperations:'),
      want: 'api.yaml:12:3 warning SS405 channel "other" has no operation, so streamspec makes no stream of it. Add an operation that sends or receives on it, or x-streamspec.direction on the channel.',
    },
  ],
  [
    'SS406 no consumer',
    {
      given: sendOne(COMPLETE.replace('  consumer: browser\n', '')),
      want: 'api.yaml:4:3 error SS406 channel "feed" does not say who reads the stream, and AsyncAPI has no field for it. Add x-streamspec.consumer, such as consumer: browser, to the channel or its operation (or to the document\'s x-streamspec for every stream), or run with --assume-defaults.',
    },
  ],
  [
    'SS407 no backpressure',
    {
      given: sendOne(COMPLETE.replace('  backpressure: { strategy: pull }\n', '')),
      want: 'api.yaml:4:3 error SS407 channel "feed" does not say how the producer is slowed when the consumer falls behind, and AsyncAPI has no field for it. Add x-streamspec.backpressure, such as backpressure: { strategy: pull, buffer: 64 }, to the channel or its operation (or to the document\'s x-streamspec for every stream), or run with --assume-defaults.',
    },
  ],
  [
    'SS408 no termination',
    {
      given: sendOne(COMPLETE.replace('\n  termination: { message: done }', '')),
      want: 'api.yaml:4:3 error SS408 channel "feed" does not say how the stream ends, and AsyncAPI has no field for it. Add x-streamspec.termination, such as termination: { message: done }, to the channel or its operation (or to the document\'s x-streamspec for every stream), or run with --assume-defaults.',
    },
  ],
  [
    'SS409 a stream with no messages',
    {
      given: sendOne(COMPLETE).replace('    messages:\n      item: { payload: { type: object } }\n', ''),
      want: 'api.yaml:4:3 error SS409 channel "feed" has no messages, so its stream would carry nothing. Add messages to the channel, with a payload schema each.',
    },
  ],
  [
    'SS410 a default assumed',
    {
      given: sendOne(COMPLETE.replace('\n  termination: { message: done }', '')),
      assumeDefaults: true,
      want: 'api.yaml:4:3 warning SS410 channel "feed" does not say how the stream ends; assumed x-streamspec.termination: { message: done } (--assume-defaults). Add x-streamspec.termination to say so in the document.',
    },
  ],
  [
    'SS411 an Avro payload',
    {
      given: sendOne(COMPLETE).replace(
        'item: { payload: { type: object } }',
        'item: { payload: { schemaFormat: application/vnd.apache.avro;version=1.9.0, schema: { type: record } } }',
      ),
      want: 'api.yaml:7:40 error SS411 message "item" has a payload in application/vnd.apache.avro;version=1.9.0, and streamspec turns only JSON Schema (and AsyncAPI Schema) into types and validators. Give the message a JSON Schema payload.',
    },
  ],
  [
    'SS412 message headers',
    {
      given: sendOne(COMPLETE).replace('item: { payload: { type: object } }', 'item: { headers: { type: object }, payload: { type: object } }'),
      want: 'api.yaml:7:15 warning SS412 message "item" has headers, and a streamspec message carries only its payload, so they are left out of the generated types. Move what the consumer needs into the payload, or into x-streamspec.request when it is sent once as the stream opens.',
    },
  ],
  [
    'SS413 a server protocol streamspec does not generate',
    {
      given: sendOne(COMPLETE).replace('channels:', 'servers:\n  broker: { host: kafka.example.com, protocol: kafka }\nchannels:'),
      want: 'api.yaml:4:48 warning SS413 the servers speak kafka, which streamspec does not generate; the streams are generated for sse, as every one goes server to client. Set x-streamspec.transport at the document root to choose another.',
    },
  ],
  [
    'SS414 two operations of one channel disagree',
    {
      given: sendOne(
        COMPLETE,
        `    x-streamspec: { backpressure: { strategy: block } }
  sendFeedAgain:
    action: send
    channel: { $ref: '#/channels/feed' }
    x-streamspec: { backpressure: { strategy: pull } }`,
      ),
      want: 'api.yaml:20:21 error SS414 x-streamspec.backpressure here disagrees with the one on line 16, and both are for the stream of channel "feed". Give it once, on the channel.',
    },
  ],
  [
    'SS415 channels at one address with different messages of one name',
    {
      given: sendOne(COMPLETE).replace(
        'operations:',
        `  again:
    address: /feed
    messages:
      item: { payload: { type: string } }
operations:
  sendAgain:
    action: send
    channel: { $ref: '#/channels/again' }`,
      ),
      want: 'api.yaml:15:7 error SS415 the channels at /feed ("feed", "again") have two different messages named "item" (the other on line 7), and a stream tells its messages apart by name. Rename one of them in its channel\'s messages.',
    },
  ],
  [
    'SS416 servers with different base paths',
    {
      given: sendOne(COMPLETE).replace(
        'channels:',
        'servers:\n  a: { host: a.example.com, pathname: /v1, protocol: https }\n  b: { host: b.example.com, pathname: /v2, protocol: https }\nchannels:',
      ),
      want: 'api.yaml:7:3 warning SS416 the servers of channel "feed" have different base paths ("/v1" and "/v2"), and a stream has one path. Using "/v1"; list one server under the channel\'s servers, or set x-streamspec.path.',
    },
  ],
];

describe('AsyncAPI diagnostics', () => {
  it.each(cases)('%s', (_, { given, assumeDefaults, want }) => {
    const code = want.split(' ')[2]!;
    const got = lint(given, assumeDefaults);
    expect(got.filter((l) => l.split(' ')[2] === code)).toEqual([want]);
  });

  it('every SS4xx code has a case here', async () => {
    const { CODES } = await import('../generator/diagnostics.ts');
    const covered = new Set(cases.map(([, c]) => c.want.split(' ')[2]));
    expect(Object.keys(CODES).filter((c) => c.startsWith('SS4') && !covered.has(c))).toEqual([]);
  });
});
