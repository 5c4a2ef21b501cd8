import { describe, expect, it } from 'vitest';
import { loadYamlText } from '../load/load.ts';
import { buildContract } from './build.ts';
import type { Contract, ObjectSchema } from './types.ts';

function build(yaml: string) {
  const { file, diagnostics } = loadYamlText('spec/t.yaml', yaml);
  expect(diagnostics).toEqual([]);
  return buildContract({ root: file!, files: new Map([['spec/t.yaml', file!]]), hash: '0'.repeat(64) });
}

function ok(yaml: string): Contract {
  const r = build(yaml);
  expect(r.diagnostics).toEqual([]);
  return r.contract!;
}

const head = `streamspec: "1.0"
info: { title: T, version: 2.0.0 }
package: t.v1
`;
const stream = (body: string) => `${head}streams:
  feed:
    path: /v1/feed
    direction: server-to-client
    producer: server
    consumer: browser
    termination: { message: done }
    backpressure: { strategy: pull }
${body
  .split('\n')
  .map((l) => (l ? `    ${l}` : l))
  .join('\n')}`;

describe('buildContract', () => {
  it('applies every default the README lists', () => {
    const c = ok(stream('messages: { item: { type: object } }'));
    const s = c.streams[0]!;
    expect(c.transport).toBe('sse');
    expect(c.id).toBe('t');
    expect(s.lossy).toBe(false);
    expect(s.backpressure).toMatchObject({ kind: 'pull', buffer: 64 });
    expect(s.errors.mode).toBe('fail-fast');
    expect(s.errors.codes.map((n) => n.wire)).toEqual(['INTERNAL', 'INVALID_REQUEST', 'RESUME_EXPIRED']);
    expect(s.resume.kind).toBe('none');
    expect(s.heartbeat).toMatchObject({ intervalMs: 15_000, timeoutMs: 45_000 });
    expect(s.typeNames).toEqual({ message: 'FeedMessage', clientMessage: 'FeedClientMessage', params: 'FeedParams', errorCode: 'FeedErrorCode' });
  });

  it('names inline payloads after stream and message, and keeps $refs as refs', () => {
    const c = ok(
      `${stream(`messages:
  user_joined: { type: object, properties: { name: { type: string } } }
  said: { $ref: '#/components/schemas/Said' }
termination: { message: done, payload: { type: object } }`).replace('    termination: { message: done }\n', '')}
components:
  schemas:
    Said: { type: object, properties: { text: { type: string } } }
`,
    );
    expect(c.types.map((t) => t.key)).toEqual(['Said', 'FeedUserJoined', 'FeedDone']);
    const s = c.streams[0]!;
    expect(s.messages.map((m) => [m.name.wire, m.name.camel, m.payload])).toEqual([
      ['user_joined', 'userJoined', expect.objectContaining({ kind: 'ref', target: 'FeedUserJoined' })],
      ['said', 'said', expect.objectContaining({ kind: 'ref', target: 'Said' })],
    ]);
    expect(s.termination.payload).toMatchObject({ kind: 'ref', target: 'FeedDone' });
  });

  it('derived type names never take a schema name', () => {
    const c = ok(`${stream('messages: { item: { $ref: "#/components/schemas/FeedMessage" } }')}
components:
  schemas:
    FeedMessage: { type: string }
`);
    expect(c.streams[0]!.typeNames.message).toBe('FeedMessage2');
  });

  it('converts schemas: recursion, allOf, nullable types, enums, maps, integer formats', () => {
    const c = ok(`${stream('messages: { node: { $ref: "#/components/schemas/Node" } }')}
components:
  schemas:
    Node:
      allOf:
        - $ref: '#/components/schemas/Base'
        - type: object
          required: [children]
          properties:
            children: { type: array, items: { $ref: '#/components/schemas/Node' } }
            label: { type: [string, "null"] }
            kind: { enum: [a, b] }
            mixed: { enum: [1, "x"] }
            tags: { type: object, additionalProperties: { type: string } }
            count: { type: integer }
            small: { type: integer, format: int32 }
            ratio: { type: number }
    Base:
      type: object
      required: [id]
      additionalProperties: false
      properties: { id: { type: string } }
`);
    const node = c.types.find((t) => t.key === 'Node')!.schema as ObjectSchema;
    expect(node.kind).toBe('object');
    expect(node.additional).toBe(false);
    const p = Object.fromEntries(node.properties.map((x) => [x.name.wire, x]));
    expect(Object.keys(p)).toEqual(['id', 'children', 'label', 'kind', 'mixed', 'tags', 'count', 'small', 'ratio']);
    expect(p.id!.required).toBe(true);
    expect(p.children!.schema).toMatchObject({ kind: 'array', items: { kind: 'ref', target: 'Node' } });
    expect(p.label!.schema).toMatchObject({ kind: 'union', variants: [{ kind: 'string' }, { kind: 'null' }] });
    expect(p.kind!.schema).toMatchObject({ kind: 'enum', values: [{ wire: 'a' }, { wire: 'b' }] });
    expect(p.mixed!.schema).toMatchObject({ kind: 'union', variants: [{ kind: 'literal', value: 1 }, { kind: 'literal', value: 'x' }] });
    expect(p.tags!.schema).toMatchObject({ kind: 'map', values: { kind: 'string' } });
    expect(p.count!.schema).toMatchObject({ kind: 'integer', format: 'int64' });
    expect(p.small!.schema).toMatchObject({ kind: 'integer', format: 'int32' });
    expect(p.ratio!.schema).toMatchObject({ kind: 'number', format: 'double' });
  });

  it('keeps examples and default as written, null default included, and nothing when absent', () => {
    const c = ok(`${stream('messages: { item: { $ref: "#/components/schemas/Item" } }')}
components:
  schemas:
    Item:
      type: object
      examples: [{ n: 2, unit: kg }]
      properties:
        n: { type: integer, default: 0 }
        unit: { type: string, examples: [kg, lb], default: kg }
        note: { type: [string, "null"], default: null }
        plain: { type: string }
        other: { $ref: '#/components/schemas/Other', examples: [x] }
    Other: { type: string }
`);
    const item = c.types.find((t) => t.key === 'Item')!.schema as ObjectSchema;
    expect(item.examples).toEqual([{ n: 2, unit: 'kg' }]);
    const p = Object.fromEntries(item.properties.map((x) => [x.name.wire, x.schema]));
    expect(p.n).toMatchObject({ kind: 'integer', default: 0 });
    expect(p.unit).toMatchObject({ kind: 'string', examples: ['kg', 'lb'], default: 'kg' });
    expect(p.note).toMatchObject({ kind: 'union', default: null });
    expect(Object.hasOwn(p.note!, 'default')).toBe(true);
    expect(Object.hasOwn(p.plain!, 'default')).toBe(false);
    expect(Object.hasOwn(p.plain!, 'examples')).toBe(false);
    expect(p.other).toMatchObject({ kind: 'ref', target: 'Other', examples: ['x'] });
  });

  it('keeps positions on every node', () => {
    const c = ok(stream('messages: { item: { type: object } }'));
    const s = c.streams[0]!;
    expect(s.pos).toEqual({ file: 'spec/t.yaml', line: 5, col: 3 });
    expect(s.path.pos).toEqual({ file: 'spec/t.yaml', line: 6, col: 11 });
    expect(s.messages[0]!.pos).toEqual({ file: 'spec/t.yaml', line: 12, col: 17 });
  });

  it('reports allOf over a non-object as SS107 and builds nothing', () => {
    const r = build(`${stream('messages: { item: { allOf: [{ type: string }] } }')}`);
    expect(r.contract).toBeUndefined();
    expect(r.diagnostics.map((d) => [d.code, d.line, d.col])).toEqual([['SS107', 12, 33]]);
  });

  it('applies strategy parameters and retention', () => {
    const c = ok(
      stream(`lossy: true
messages: { item: { type: object } }
resume: { strategy: token, retention: { messages: 50, seconds: 9 } }
heartbeat: { interval: 250ms, timeout: 1s }`).replace('{ strategy: pull }', '{ strategy: sample, interval: 2s, buffer: 3 }'),
    );
    const s = c.streams[0]!;
    expect(s.backpressure).toMatchObject({ kind: 'sample', intervalMs: 2000, buffer: 3 });
    expect(s.resume).toMatchObject({ kind: 'token', retention: { messages: 50, seconds: 9 } });
    expect(s.heartbeat).toMatchObject({ intervalMs: 250, timeoutMs: 1000 });
  });

  it.each([
    ['unsaid: default (the router decides)', '', { kind: 'default', pos: { line: 5, col: 3 } }],
    ['required', 'auth: required', { kind: 'required', pos: { line: 13, col: 11 } }],
    ['optional', 'auth: optional', { kind: 'optional', pos: { line: 13, col: 11 } }],
    ['none', 'auth: none', { kind: 'none', pos: { line: 13, col: 11 } }],
  ])('auth %s', (_name, body, want) => {
    const s = ok(stream(`messages: { item: { type: object } }\n${body}`)).streams[0]!;
    expect(s.auth).toMatchObject(want);
  });
});
