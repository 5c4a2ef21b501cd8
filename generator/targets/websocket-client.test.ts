import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, removeWorkDirs, typecheck, workDir, writeFiles } from '../../test/support/tools.ts';
import { generate } from '../generate.ts';
import { lintSpec } from '../pipeline.ts';
import { formatTs } from '../render/format.ts';
import { createRenderer } from '../render/handlebars.ts';
import { TEMPLATES_DIR } from './index.ts';
import { pathExpression, WEBSOCKET_CLIENT_RUNTIME, websocketClientView } from './websocket-client.ts';

afterAll(removeWorkDirs);

const bound = (spec: string, cwd = ROOT) => {
  const r = lintSpec(spec, { cwd, transport: 'websocket' });
  if (!r.bound) throw new Error(`${spec}: ${r.diagnostics.map((d) => d.message).join('; ')}`);
  return r.bound;
};

describe('websocketClientView', () => {
  it.each([
    [
      'bidirectional (room)',
      {
        given: 'spec/room.yaml',
        want: {
          method: 'room',
          openFn: 'openRoom',
          sends: true,
          clientMessageType: 'T.RoomClientMessage',
          callType: 'WsStreamCall<T.RoomMessage, T.RoomClientMessage>',
          credits: 32, // backpressure.credits
          terminal: 'closed',
          idleMs: 60_000,
          resume: true,
          hasRequest: true,
          requestType: 'T.RoomRequest',
          codes: ['FORBIDDEN', 'ROOM_FULL', 'MESSAGE_TOO_LONG', 'INTERNAL', 'INVALID_REQUEST', 'RESUME_EXPIRED'],
          pathExpression: '"/v1/rooms/" + encodeURIComponent(String(args.params["roomId"]))',
        },
      },
    ],
    [
      'client-to-server (ingest)',
      { given: 'spec/ingest.yaml', want: { sends: true, callType: 'WsStreamCall<T.MetricsMessage, T.MetricsClientMessage>', credits: 128, resume: false } },
    ],
    [
      'server-to-client (assistant completion)',
      { given: 'spec/assistant.yaml', want: { sends: false, clientMessageType: undefined, callType: 'StreamCall<T.CompletionMessage>', credits: 64 } },
    ],
  ])('%s', (_, { given, want }) => {
    const view = websocketClientView(bound(given), '// header');
    expect(view.streams[0]).toMatchObject(want);
  });

  it.each<[string, { given: Parameters<typeof pathExpression>[0]; want: string }]>([
    ['literal only', { given: [{ literal: '/v1/alerts' }], want: '"/v1/alerts"' }],
    ['param between literals', { given: [{ literal: '/a/' }, { param: 'id' }, { literal: '/b' }], want: '"/a/" + encodeURIComponent(String(args.params["id"])) + "/b"' }],
    ['param last', { given: [{ literal: '/a/' }, { param: 'id' }], want: '"/a/" + encodeURIComponent(String(args.params["id"]))' }],
    ['no parts', { given: [], want: '""' }],
    // Every piece through tsString: quotes, backticks, `${`, U+2028 and `*/` stay inside their literal.
    ['hostile literal', { given: [{ literal: '/"x\'`${y}`*/\u2028\n' }], want: '"/\\"x\'`${y}`*/\\u2028\\n"' }],
    ['hostile param name', { given: [{ param: '"]);evil();//' }], want: 'encodeURIComponent(String(args.params["\\"]);evil();//"]))' }],
  ])('pathExpression: %s', (_, { given, want }) => {
    expect(pathExpression(given)).toBe(want);
  });

  it('names the client interface after the package', () => {
    expect(websocketClientView(bound('spec/room.yaml'), '// h').clientType).toBe('RoomClient');
  });

  it('refuses a contract bound to another transport', () => {
    const sse = lintSpec('spec/assistant.yaml', { cwd: ROOT }).bound!;
    expect(() => websocketClientView(sse, '')).toThrow('internal: websocketClientView for sse');
  });
});

// The generated client, rendered and formatted as the generator does, next to the generated types,
// validators and runtime, compiled with tsc --strict, with a user's code that must (and must not)
// type-check.
describe('templates/client/websocket.ts.hbs', () => {
  const renderer = createRenderer(TEMPLATES_DIR);

  async function emit(spec: string, cwd = ROOT): Promise<{ dir: string; client: string }> {
    const b = bound(spec, cwd);
    const out = await generate({ spec, transport: 'websocket', dryRun: true, cwd });
    expect(out.ok).toBe(true);
    const dir = workDir('ws-client');
    const files: Record<string, string> = {};
    for (const f of out.files) if (f.path.endsWith('.ts')) files[f.path] = f.content;
    for (const name of WEBSOCKET_CLIENT_RUNTIME) files[`runtime/${name}`] = readFileSync(join(ROOT, 'templates/runtime', name), 'utf8');
    const client = await formatTs(renderer.render('client/websocket.ts.hbs', websocketClientView(b, '// Code generated. DO NOT EDIT.')), 'client.ts');
    files['client.ts'] = client;
    writeFiles(dir, files);
    return { dir, client };
  }

  it('renders the room client, which compiles with its types and runtime and types send()', async () => {
    const { dir, client } = await emit('spec/room.yaml');
    expect(client).toContain("path: '/v1/rooms/' + encodeURIComponent(String(args.params['roomId'])),");
    expect(client).toContain('credits: 32,');
    expect(client).toContain('export function openRoom(');
    writeFiles(dir, {
      'use.ts': [
        "import { createClient, openRoom, StreamError, type ClientOptions } from './client.js';",
        "import { WebSocket } from 'ws';",
        "const options: ClientOptions = { baseUrl: 'http://127.0.0.1:1', headers: async () => ({ authorization: 'x' }), WebSocket };",
        'export async function main(signal: AbortSignal) {',
        "  const room = createClient(options).room({ params: { roomId: 'r-1' }, request: { displayName: 'ada' }, signal });",
        "  room.send({ type: 'say', data: { text: 'hi' } });",
        "  room.send({ type: 'startTyping', data: {} });",
        "  // @ts-expect-error: not a client message of this stream",
        "  room.send({ type: 'said', data: { text: 'hi' } });",
        '  room.close();',
        '  for await (const m of room) {',
        "    if (m.type === 'said') m.data.author.displayName.toUpperCase();",
        "    if (m.type === 'closed') return m.data.reason;",
        '  }',
        "  void openRoom(options, { params: { roomId: 'r' }, request: {} }).lastId;",
        '  return new StreamError("X", "y").code;',
        '}',
      ].join('\n'),
    });
    expect(typecheck('ws-client-room', [join(dir, 'client.ts'), join(dir, 'use.ts')])).toEqual([]);
  });

  it('gives a server-to-client stream no send(), and a request-less one no request', async () => {
    const { dir, client } = await emit('spec/alerts.yaml');
    expect(client).not.toContain('request: args.request');
    writeFiles(dir, {
      'use.ts': [
        "import { createClient } from './client.js';",
        "const c = createClient({ baseUrl: 'https://example.test' });",
        'for (const k of Object.keys(c)) {',
        '  const s = c[k as keyof typeof c]({ params: {} as never });',
        '  // @ts-expect-error: nothing to send on a server-to-client stream',
        '  s.send;',
        '  void s.state;',
        '}',
      ].join('\n'),
    });
    expect(typecheck('ws-client-alerts', [join(dir, 'client.ts'), join(dir, 'use.ts')])).toEqual([]);
  });

  it('keeps hostile contract text out of the code', async () => {
    const dir = workDir('ws-hostile-spec');
    const room = readFileSync(join(ROOT, 'spec/room.yaml'), 'utf8')
      .replace("summary: Everything said in a room, and what you say in it.", 'summary: "ends */ here ${x} `tick` \\u2028 \'q\' \\"dq\\""')
      .replace('path: /v1/rooms/{roomId}', "path: \"/v1/it's/`x`/$z/{roomId}\"")
      .replace('# yaml-language-server: $schema=./streamspec.schema.json', '');
    writeFiles(dir, { 'room.yaml': room });
    const { dir: out, client } = await emit('room.yaml', dir);
    expect(client).toContain('ends *\\/ here');
    expect(client).toContain('"/v1/it\'s/`x`/$z/" + encodeURIComponent');
    expect(typecheck('ws-client-hostile', [join(out, 'client.ts')])).toEqual([]);
  });
});
