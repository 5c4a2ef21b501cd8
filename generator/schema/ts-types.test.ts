import { afterAll, describe, expect, it } from 'vitest';
import type { NamedType, SchemaNode } from '../ir/types.ts';
import {
  arr,
  bool,
  enm,
  int,
  lit,
  map,
  named,
  nul,
  num,
  obj,
  prop,
  ref,
  str,
  typeMap,
  removeWorkDirs,
  typecheck,
  union,
  unknown,
} from './fixtures.ts';
import { tsDeclarations, tsTypeExpr } from './ts-types.ts';

afterAll(removeWorkDirs);

const types = typeMap([named('Token', obj([prop('text', str())])), named('record', str())]);

describe('tsTypeExpr', () => {
  it.each<[string, { given: SchemaNode; want: string }]>([
    ['string', { given: str({ format: 'uuid' }), want: 'string' }],
    ['int64 is a number', { given: int('int64'), want: 'number' }],
    ['uint32 is a number', { given: int('uint32'), want: 'number' }],
    ['float', { given: num('float'), want: 'number' }],
    ['boolean', { given: bool(), want: 'boolean' }],
    ['null', { given: nul(), want: 'null' }],
    ['unknown', { given: unknown(), want: 'unknown' }],
    ['ref prints the type name', { given: ref('Token'), want: 'Token' }],
    ['ref to a reserved word prints the safe name', { given: ref('record'), want: 'Record$' }],
    [
      'enum of hostile values',
      { given: enm('a b', '"', '`${x}`', '\u2028'), want: '"a b" | "\\"" | "`${x}`" | "\\u2028"' },
    ],
    [
      'literals',
      { given: union(lit('x'), lit(2), lit(-1), lit(true), lit(null)), want: '"x" | 2 | (-1) | true | null' },
    ],
    ['nullable string', { given: union(str(), nul()), want: 'string | null' }],
    ['array of union is parenthesised', { given: arr(union(str(), int())), want: '(string | number)[]' }],
    ['array of enum is parenthesised', { given: arr(enm('a', 'b')), want: '("a" | "b")[]' }],
    ['array of array', { given: arr(arr(bool())), want: 'boolean[][]' }],
    ['map', { given: map(ref('Token')), want: '{ [key: string]: Token }' }],
    [
      'object with hostile keys',
      {
        given: obj([
          prop('a b', str()),
          prop('__proto__', int(), { required: false }),
          prop('0abc', bool()),
          prop('class', str()),
          prop('é', str(), { required: false }),
        ]),
        want: '{ "a b": string; ["__proto__"]?: number; "0abc": boolean; class: string; "\\u00e9"?: string; }',
      },
    ],
    [
      'property description cannot close the comment',
      {
        given: obj([prop('x', str(), { description: 'ends */ here\nnext' })]),
        want: '{\n/** ends *\\/ here\n * next */\nx: string;\n}',
      },
    ],
    ['additional: true adds nothing', { given: obj([prop('x', str())], true), want: '{ x: string; }' }],
    [
      'additional schema with properties',
      { given: obj([prop('x', str())], int()), want: '{ x: string; } & { [key: string]: unknown }' },
    ],
    ['empty closed object', { given: obj([]), want: '{ [key: string]: never }' }],
    ['empty open object', { given: obj([], true), want: '{ [key: string]: unknown }' }],
  ])('%s', (_name, { given, want }) => {
    expect(tsTypeExpr(given, types)).toBe(want);
  });

  it('throws on a ref the IR does not hold (a builder bug, not user error)', () => {
    expect(() => tsTypeExpr(ref('Nope'), types)).toThrow(/unresolved ref "Nope"/);
  });
});

describe('tsDeclarations', () => {
  it('prints one export per type with its description, in order', () => {
    const out = tsDeclarations([
      named('Id', str(), 'An id. */ alert(1) /*'),
      named('Token', obj([prop('text', str())])),
    ]);
    expect(out).toBe(
      '/** An id. *\\/ alert(1) /* */\nexport type Id = string;\n\nexport type Token = { text: string; };\n',
    );
  });

  it('type-checks recursive, mutually recursive and hostile types under tsc --strict', () => {
    const decls: NamedType[] = [
      named('Tree', obj([prop('value', int()), prop('children', arr(ref('Tree')), { required: false })])),
      named('Json', union(str(), num(), bool(), nul(), arr(ref('Json')), map(ref('Json')))),
      named('Ping', obj([prop('pong', union(ref('Pong'), nul()))])),
      named('Pong', obj([prop('ping', ref('Ping'), { required: false })])),
      named(
        'Hostile',
        obj([prop('a b', str()), prop('__proto__', str()), prop('`${x}`', str()), prop('*/', lit(-2))], str()),
        'desc with */ and ${x} and \u2028',
      ),
      named('promise', enm('x', 'y')),
      named('Empty', obj([])),
    ];
    const source = `${tsDeclarations(decls)}
const t: Tree = { value: 1, children: [{ value: 2 }] };
const j: Json = { a: [1, "x", null, { b: true }] };
const p: Ping = { pong: { ping: { pong: null } } };
const h: Hostile = { "a b": "", ["__proto__"]: "", "\`\${x}\`": "", "*/": -2, extra: 1 };
const c: Promise$ = "y";
const e: Empty = {};
// @ts-expect-error a missing required key is a type error
const bad: Tree = { children: [] };
export { t, j, p, h, c, e, bad };
`;
    expect(typecheck('ts-types', { 'types.ts': source })).toEqual([]);
  });
});
