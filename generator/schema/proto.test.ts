import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { names } from '../ir/names.ts';
import type { Contract, NamedType, Property, Stream } from '../ir/types.ts';
import { createRenderer } from '../render/handlebars.ts';
import { header } from '../render/header.ts';
import {
  arr,
  bool,
  contract,
  enm,
  int,
  lit,
  map,
  message,
  named,
  nul,
  num,
  obj,
  POS,
  prop,
  ref,
  str,
  stream,
  union,
  unknown,
  removeWorkDirs,
  workDir,
} from './fixtures.ts';
import { bufUpperSnake, buildProtoModel, defaultJsonName, type ProtoLock } from './proto.ts';
import { printProtoLock } from './proto-lock.ts';

afterAll(removeWorkDirs);

const TEMPLATES = fileURLToPath(new URL('../../templates/', import.meta.url));
const BUF = fileURLToPath(new URL('../../node_modules/.bin/buf', import.meta.url));
const renderer = createRenderer(TEMPLATES);

const HOSTILE_KEYS = ['a b', '__proto__', '0abc', 'é', 'class', 'x*/y', '"', 'constructor'];

const TYPES: NamedType[] = [
  named(
    'Token',
    obj([
      prop('text', str(), { description: 'The text.\n*/ Second line\n\n  indented' }),
      prop('index', int('uint32'), { required: false }),
    ]),
    'A token.',
  ),
  named(
    'CompletionRequest',
    obj(HOSTILE_KEYS.map((k, i) => prop(k, i % 2 ? str() : int('int64'), { required: i % 3 !== 0 }))),
  ),
  named('Color', enm(...HOSTILE_KEYS, 'red', 'unspecified', 'A_B')),
  named('Circle', obj([prop('r', num('float'))])),
  named('Square', obj([prop('side', num())])),
  named('Shape', union(ref('Circle'), ref('Square'))),
  named('Text', str({ maxLength: 10 })),
  named('Tree', obj([prop('children', arr(ref('Tree')))])),
  named(
    'Usage',
    obj([
      prop('tags', arr(str())),
      prop('matrix', arr(arr(num()))),
      prop('labels', map(int('int64'))),
      prop('grouped', map(arr(str()))),
      prop('color', ref('Color'), { required: false }),
      prop('status', enm('on', 'off')),
      prop('maybe', union(str(), nul())),
      prop('shape', ref('Shape')),
      prop('either', union(ref('Circle'), ref('Square'), nul())),
      prop('any', unknown()),
      prop('mixed', union(str(), int())),
      prop('blob', str({ format: 'byte' })),
      prop('inner', obj([prop('deep', obj([prop('x', bool())]))])),
      prop('items', arr(obj([prop('id', str())]))),
      prop('nullable_items', arr(union(int(), nul()))),
      prop('token', obj([prop('shadow', bool())])),
      prop('ref_token', ref('Token')),
      prop('const', lit('x')),
      prop('nothing', nul()),
      prop('count', int('uint64'), { required: false }),
      prop('tree', ref('Tree')),
      prop('hostile', ref('CompletionRequest')),
    ]),
  ),
  named('Said', obj([prop('text', str())])),
  named('Say', obj([prop('text', str())])),
  named('Heartbeat', obj([prop('at', str())])),
];

function fixture(types: NamedType[] = TYPES, streams?: Stream[]): Contract {
  return contract({
    types,
    description: 'The assistant.\nIt streams.',
    streams: streams ?? [
      stream('completion', {
        params: [{ name: names('conversationId'), schema: str({ format: 'uuid' }), pos: POS }],
        request: ref('CompletionRequest'),
        messages: [
          message('token', ref('Token')),
          message('usage', ref('Usage')),
          message('text', ref('Text')),
          message('shape', ref('Shape')),
          message('beat', ref('Heartbeat')),
        ],
        resume: { kind: 'last-event-id', retention: { messages: 10, seconds: undefined }, pos: POS },
        lossy: true,
        summary: 'Tokens of one completion.',
        description: 'Second paragraph */.',
      }),
      stream('room', {
        direction: 'bidirectional',
        producer: 'both',
        params: [{ name: names('roomId'), schema: str(), pos: POS }],
        request: arr(str()),
        messages: [message('said', ref('Said')), message('seq')],
        clientMessages: [message('say', ref('Say')), message('leave')],
        termination: { message: names('closed'), payload: ref('Text'), pos: POS },
        errors: { mode: 'in-band', message: names('problem'), codes: ['FORBIDDEN', 'INTERNAL'].map(names), pos: POS },
        resume: { kind: 'token', retention: { messages: 10, seconds: undefined }, pos: POS },
      }),
      stream('upload', {
        direction: 'client-to-server',
        producer: 'client',
        clientMessages: [message('chunk', ref('Text'))],
      }),
    ],
  });
}

function render(c: Contract, lock?: ProtoLock) {
  const model = buildProtoModel(c, lock);
  return { ...model, text: renderer.render('proto/file.proto.hbs', model.view) };
}

/** Writes the proto and its buf.yaml into a fresh work dir. */
function writeModule(rendered: { path: string; text: string }, c: Contract): string {
  const dir = workDir('proto');
  fs.writeFileSync(
    path.join(dir, 'buf.yaml'),
    renderer.render('proto/buf.yaml.hbs', { header: header(c.file, c.hash, 'yaml') }),
  );
  fs.mkdirSync(path.dirname(path.join(dir, rendered.path)), { recursive: true });
  fs.writeFileSync(path.join(dir, rendered.path), rendered.text);
  return dir;
}

function buf(dir: string, ...args: string[]): { status: number | null; output: string } {
  const r = spawnSync(BUF, args, { cwd: dir, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

const block = (text: string, start: string): string => {
  const at = text.indexOf(start);
  if (at < 0) throw new Error(`no ${start} in:\n${text}`);
  const lines = text.slice(at).split('\n');
  const indent = /^ */.exec(lines[0]!)![0];
  const end = lines.findIndex((l, i) => i > 0 && l === `${indent}}`);
  return lines.slice(0, end + 1).join('\n');
};

describe('buildProtoModel', () => {
  const c = fixture();
  const out = render(c);

  it('names the file after the package and the contract id', () => {
    expect(out.path).toBe('assistant/v1/assistant.proto');
    expect(buildProtoModel(contract({ id: 'chat-room', packageName: 'acme.chat.v1beta1' }), undefined).path).toBe(
      'acme/chat/v1beta1/chat_room.proto',
    );
  });

  it('passes buf format, buf lint (STANDARD) and buf build', () => {
    const dir = writeModule(out, c);
    expect(buf(dir, 'format', '--diff', '--exit-code')).toEqual({ status: 0, output: '' });
    expect(buf(dir, 'lint')).toEqual({ status: 0, output: '' });
    expect(buf(dir, 'build', '-o', '/dev/null')).toEqual({ status: 0, output: '' });
  }, 60_000);

  it('starts with the header, syntax, package, import and the service', () => {
    expect(out.text.split('\n').slice(0, 18).join('\n'))
      .toBe(`// Code generated by streamspec from spec/assistant.yaml (sha256 ${'0'.repeat(64)}). DO NOT EDIT.

syntax = "proto3";

package assistant.v1;

import "google/protobuf/struct.proto";

// The assistant.
// It streams.
service AssistantService {
  // Tokens of one completion.
  //
  // Second paragraph */.
  rpc Completion(CompletionRequest) returns (stream CompletionResponse);
  rpc Room(stream RoomRequest) returns (stream RoomResponse);
  rpc Upload(stream UploadRequest) returns (UploadResponse);
}`);
  });

  it('request: params, the request object inlined with hostile keys, resume token', () => {
    expect(block(out.text, 'message CompletionRequest {')).toBe(`message CompletionRequest {
  string conversation_id = 1;
  optional int64 a_b = 2 [json_name = "a b"];
  string proto = 3 [json_name = "__proto__"];
  int64 n_0abc = 4 [json_name = "0abc"];
  optional string e = 5 [json_name = "\\303\\251"];
  int64 class = 6;
  string x_y = 7 [json_name = "x*/y"];
  optional int64 x = 8 [json_name = "\\""];
  string constructor = 9;
  // Resume after the message with this id; empty for a fresh start.
  string resume_token = 10;
}`);
  });

  it('response: seq, dropped when lossy, oneof of messages, terminal and heartbeat; wrappers nested', () => {
    expect(block(out.text, 'message CompletionResponse {')).toBe(`message CompletionResponse {
  // One above the previous message's; a gap, repeat or reordering is visible.
  uint64 seq = 1;
  // Messages dropped by backpressure just before this one.
  uint32 dropped = 2;
  oneof event {
    Token token = 3;
    Usage usage = 4;
    Text text = 5;
    Shape shape = 6;
    HeartbeatType beat = 7;
    // The terminal message: nothing follows it.
    Done done = 8;
    Heartbeat heartbeat = 9;
  }

  message Text {
    string value = 1;
  }

  message Done {}
}`);
  });

  it('bidirectional: request is a oneof of open and client messages; in-band error with a code enum', () => {
    expect(block(out.text, 'message RoomRequest {')).toBe(`message RoomRequest {
  oneof event {
    // The first frame: opens the stream.
    Open open = 1;
    Say say = 2;
    Leave leave = 3;
  }

  message Open {
    string room_id = 1;
    repeated string request = 2;
    // Resume after the message with this id; empty for a fresh start.
    string resume_token = 3;
  }

  message Leave {}
}`);
    const response = block(out.text, 'message RoomResponse {');
    // A message named like a generated field gets a suffix; its JSON key is taken, so it keeps the default.
    expect(response).toContain('  uint64 seq = 1;\n  oneof event {\n    Said said = 2;\n    Seq2 seq_2 = 3;');
    expect(response).toContain('  message Seq2 {}');
    expect(response).toContain(`  message Problem {
    Code code = 1;
    string message = 2;
    optional bool retryable = 3;

    enum Code {
      CODE_UNSPECIFIED = 0;
      CODE_FORBIDDEN = 1;
      CODE_INTERNAL = 2;
    }
  }`);
    expect(out.text).toContain('message UploadResponse {\n  // One above');
  });

  it('maps every schema shape', () => {
    const usage = block(out.text, 'message Usage {');
    const fields = usage
      .split('\n')
      .filter((l) => /^ {2}[^\s}]/.test(l) && !l.includes('message') && !l.includes('enum'));
    expect(fields).toEqual([
      '  repeated string tags = 1;',
      '  repeated Matrix matrix = 2;',
      '  map<string, int64> labels = 3;',
      '  map<string, Grouped> grouped = 4;',
      '  optional Color color = 5;',
      '  Status status = 6;',
      '  optional string maybe = 7;',
      '  Shape shape = 8;',
      '  Either either = 9;',
      '  google.protobuf.Value any = 10;',
      '  google.protobuf.Value mixed = 11;',
      '  bytes blob = 12;',
      '  Inner inner = 13;',
      '  repeated Items items = 14;',
      '  repeated google.protobuf.Value nullable_items = 15 [json_name = "nullable_items"];',
      '  Token token = 16;',
      // The nested `Token` shadows the top-level one here, so the ref is fully qualified.
      '  .assistant.v1.Token ref_token = 17 [json_name = "ref_token"];',
      '  string const = 18;',
      '  google.protobuf.NullValue nothing = 19;',
      '  optional uint64 count = 20;',
      '  Tree tree = 21;',
      '  CompletionRequestType hostile = 22;',
    ]);
    expect(usage).toContain('  message Matrix {\n    repeated double values = 1;\n  }');
    expect(usage).toContain('  message Grouped {\n    repeated string values = 1;\n  }');
    expect(usage).toContain(
      '  enum Status {\n    STATUS_UNSPECIFIED = 0;\n    STATUS_ON = 1;\n    STATUS_OFF = 2;\n  }',
    );
    expect(usage).toContain(
      '  message Either {\n    oneof variant {\n      Circle circle = 1;\n      Square square = 2;\n    }\n  }',
    );
    expect(usage).toContain(
      '  message Inner {\n    Deep deep = 1;\n\n    message Deep {\n      bool x = 1;\n    }\n  }',
    );
    expect(block(out.text, 'message Shape {')).toBe(
      'message Shape {\n  oneof variant {\n    Circle circle = 1;\n    Square square = 2;\n  }\n}',
    );
    expect(block(out.text, 'message Tree {')).toBe('message Tree {\n  repeated Tree children = 1;\n}');
    expect(out.text).toContain('message Circle {\n  float r = 1;\n}');
  });

  it('enum values: prefixed, zero value first, hostile values made safe; clashes suffixed in wire order', () => {
    expect(block(out.text, 'enum Color {')).toBe(`enum Color {
  COLOR_UNSPECIFIED = 0;
  COLOR_A_B_2 = 1;
  COLOR_PROTO = 2;
  COLOR_N_0ABC = 3;
  COLOR_E = 4;
  COLOR_CLASS = 5;
  COLOR_X_Y = 6;
  COLOR_X = 7;
  COLOR_CONSTRUCTOR = 8;
  COLOR_RED = 9;
  COLOR_UNSPECIFIED_2 = 10;
  COLOR_A_B = 11;
}`);
  });

  it('comments: descriptions become proto comments that cannot end early', () => {
    expect(out.text).toContain(`// A token.
message Token {
  // The text.
  // */ Second line
  //
  // indented
  string text = 1;`);
  });

  it('a component named like a generated message is renamed, and a request object used only inline is not emitted twice', () => {
    expect(out.text).toContain('message HeartbeatType {\n  string at = 1;\n}');
    expect(out.text.match(/^message CompletionRequest /gm)).toHaveLength(1);
    // CompletionRequest is reached through Usage.hostile, so it gets the suffix too.
    expect(out.text).toContain('message CompletionRequestType {');
  });

  it('emits only reachable types, in contract order after the rpc messages', () => {
    const order = [...out.text.matchAll(/^(?:message|enum) (\w+)/gm)].map((m) => m[1]);
    expect(order).toEqual([
      'CompletionRequest',
      'CompletionResponse',
      'RoomRequest',
      'RoomResponse',
      'UploadRequest',
      'UploadResponse',
      'Heartbeat',
      'Token',
      'CompletionRequestType',
      'Color',
      'Circle',
      'Square',
      'Shape',
      'Tree',
      'Usage',
      'Said',
      'Say',
      'HeartbeatType',
    ]);
  });

  it('is deterministic', () => {
    expect(render(fixture()).text).toBe(out.text);
    expect(printProtoLock(render(fixture()).lock)).toBe(printProtoLock(out.lock));
  });
});

describe('field numbers are stable through the lock', () => {
  const v1Props: Property[] = [
    prop('prompt', str()),
    prop('model', str()),
    prop('temperature', num()),
    prop('gone', bool()),
  ];
  const build = (props: Property[], lock?: ProtoLock) => {
    const types = [named('Token', obj(props))];
    const c = fixture(types, [stream('completion', { messages: [message('token', ref('Token'))] })]);
    return { c, ...render(c, lock) };
  };
  const tokenFields = (text: string) =>
    block(text, 'message Token {')
      .split('\n')
      .slice(1, -1)
      .map((l) => l.trim());

  const v1 = build(v1Props);
  it('numbers a fresh message in declaration order and records it', () => {
    expect(tokenFields(v1.text)).toEqual([
      'string prompt = 1;',
      'string model = 2;',
      'double temperature = 3;',
      'bool gone = 4;',
    ]);
    expect(v1.lock.messages['Token']).toEqual({
      numbers: { prompt: 1, model: 2, temperature: 3, gone: 4 },
      reservedNumbers: [],
      reservedNames: [],
    });
  });

  it('keeps numbers when properties are added and reordered; a new one takes the next number', () => {
    const v2 = build(
      [prop('top_p', num()), prop('temperature', num()), ...v1Props.filter((p) => p.name.wire !== 'temperature')],
      v1.lock,
    );
    expect(tokenFields(v2.text)).toEqual([
      'double top_p = 5 [json_name = "top_p"];',
      'double temperature = 3;',
      'string prompt = 1;',
      'string model = 2;',
      'bool gone = 4;',
    ]);
    const dirs = [writeModule(v1, v1.c), writeModule(v2, v2.c)];
    expect(buf(dirs[1]!, 'breaking', '--against', dirs[0]!)).toEqual({ status: 0, output: '' });
  }, 60_000);

  it('reserves a removed property and its name; buf breaking reports the removal', () => {
    const v2 = build(
      v1Props.filter((p) => p.name.wire !== 'gone'),
      v1.lock,
    );
    expect(tokenFields(v2.text)).toEqual([
      'string prompt = 1;',
      'string model = 2;',
      'double temperature = 3;',
      'reserved 4;',
      'reserved "gone";',
    ]);
    const dirs = [writeModule(v1, v1.c), writeModule(v2, v2.c)];
    expect(buf(dirs[1]!, 'format', '--diff', '--exit-code').status).toBe(0);
    const breaking = buf(dirs[1]!, 'breaking', '--against', dirs[0]!);
    expect(breaking.status).not.toBe(0);
    expect(breaking.output).toMatch(/Previously present field "4" with name "gone" on message "Token" was deleted/);
  }, 60_000);

  it('a renamed property is a new field; the old name and number stay reserved', () => {
    const v2 = build([prop('input', str()), ...v1Props.slice(1)], v1.lock);
    expect(tokenFields(v2.text)).toEqual([
      'string input = 5;',
      'string model = 2;',
      'double temperature = 3;',
      'bool gone = 4;',
      'reserved 1;',
      'reserved "prompt";',
    ]);
    // The lock carried over once more: nothing moves, the reservation stays.
    const v3 = build([prop('input', str()), ...v1Props.slice(1)], v2.lock);
    expect(v3.text).toBe(v2.text);
  });

  it('a name that comes back gets a fresh number; its old one stays reserved', () => {
    const v2 = build(
      v1Props.filter((p) => p.name.wire !== 'gone'),
      v1.lock,
    );
    const v3 = build(v1Props, v2.lock);
    expect(tokenFields(v3.text)).toEqual([
      'string prompt = 1;',
      'string model = 2;',
      'double temperature = 3;',
      'bool gone = 5;',
      'reserved 4;',
    ]);
  });

  it('enum values keep their numbers and reserve removed ones', () => {
    const withEnum = (values: string[], lock?: ProtoLock) => build([prop('color', enm(...values))], lock);
    const e1 = withEnum(['red', 'green', 'blue']);
    const e2 = withEnum(['blue', 'red', 'cyan'], e1.lock);
    expect(block(e2.text, '  enum Color {')).toBe(`  enum Color {
    COLOR_UNSPECIFIED = 0;
    COLOR_BLUE = 3;
    COLOR_RED = 1;
    COLOR_CYAN = 4;
    reserved 2;
    reserved "COLOR_GREEN";
  }`);
    const dir = writeModule(e2, e2.c);
    expect(buf(dir, 'format', '--diff', '--exit-code')).toEqual({ status: 0, output: '' });
    expect(buf(dir, 'lint')).toEqual({ status: 0, output: '' });
  }, 60_000);
});

describe('helpers', () => {
  it.each([
    ['foo_bar', 'fooBar'],
    ['n_0abc', 'n0abc'],
    ['a_b_2', 'aB2'],
    ['x', 'x'],
  ])('defaultJsonName(%s) = %s', (given, want) => {
    expect(defaultJsonName(given)).toBe(want);
  });

  it.each([
    ['Color', 'COLOR'],
    ['ColorRgb', 'COLOR_RGB'],
    ['Item2X', 'ITEM2X'],
    ['AB', 'AB'],
    ['N0abc', 'N0ABC'],
    ['AbC', 'AB_C'],
  ])('bufUpperSnake(%s) = %s', (given, want) => {
    expect(bufUpperSnake(given)).toBe(want);
  });

  it('the enum prefix matches buf lint for names with digits and single letters', () => {
    const types = [
      named('Item2X', enm('a')),
      named('AB', enm('b')),
      named('N0abc', enm('c')),
      named('Holder', obj([prop('a', ref('Item2X')), prop('b', ref('AB')), prop('c', ref('N0abc'))])),
    ];
    const c = fixture(types, [stream('s', { messages: [message('m', ref('Holder'))] })]);
    const dir = writeModule(render(c), c);
    expect(buf(dir, 'lint')).toEqual({ status: 0, output: '' });
  }, 60_000);
});
