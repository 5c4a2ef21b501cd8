import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Issue } from '../../templates/runtime/validation.ts';
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
  typecheck,
  union,
  unknown,
  removeWorkDirs,
  workDir,
} from './fixtures.ts';
import {
  checkStatements,
  createPatternPool,
  patternError,
  validationImport,
  validatorDeclarations,
} from './validators.ts';

afterAll(removeWorkDirs);

const RUNTIME = fs.readFileSync(
  fileURLToPath(new URL('../../templates/runtime/validation.ts', import.meta.url)),
  'utf8',
);

// A pattern that would end the string literal and run code if it were pasted unescaped.
const HOSTILE_PATTERN = '^[a-z]+"\\);globalThis.pwned=1;//`\\$\\{x\\}`\u2028$';

const TYPES: NamedType[] = [
  named(
    'Hostile',
    obj([
      prop('a b', str({ minLength: 2, maxLength: 3 })),
      prop('__proto__', int('int32'), { required: false }),
      prop('0abc', enm('x y', 'é')),
      prop('*/', str({ pattern: HOSTILE_PATTERN }), { required: false }),
      prop('"', lit('q"uote')),
      prop('é', num('double', { minimum: 0, exclusiveMaximum: 10 }), { required: false }),
      prop('constructor', bool(), { required: false }),
    ]),
    'A description with */ and ${x}',
  ),
  named(
    'Tree',
    obj([prop('value', int('uint32')), prop('children', arr(ref('Tree'), { maxItems: 2 }), { required: false })]),
  ),
  named('Nullable', union(str({ minLength: 1 }), nul())),
  named('Circle', obj([prop('kind', lit('circle')), prop('r', num())])),
  named('Square', obj([prop('kind', lit('square')), prop('side', num())])),
  named('Shape', union(ref('Circle'), ref('Square'))),
  named('Scalar', union(str(), int('int64'), bool(), nul())),
  named(
    'Formats',
    obj([
      prop('id', str({ format: 'uuid' }), { required: false }),
      prop('at', str({ format: 'date-time' }), { required: false }),
      prop('day', str({ format: 'date' }), { required: false }),
      prop('mail', str({ format: 'email' }), { required: false }),
      prop('link', str({ format: 'uri' }), { required: false }),
      prop('blob', str({ format: 'byte' }), { required: false }),
      prop('free', str({ format: 'made-up' }), { required: false }),
    ]),
  ),
  named(
    'Numbers',
    obj([
      prop('i32', int('int32', { minimum: -5, maximum: 5 }), { required: false }),
      prop('u32', int('uint32'), { required: false }),
      prop('i64', int('int64', { exclusiveMinimum: 0 }), { required: false }),
      prop('f', num('float', { maximum: 1.5 }), { required: false }),
    ]),
  ),
  named('Labels', map(str({ maxLength: 2 }))),
  named('Open', obj([prop('x', int())], true)),
  named('Typed', obj([prop('x', int())], bool())),
  named('List', arr(union(int(), nul()), { minItems: 1 })),
  named('Any', unknown()),
  named('Alias', ref('Tree')),
  named('Choice', union(enm('a', 'b'), lit(3), arr(str()))),
];

type Checks = Record<string, (v: unknown) => Issue[]>;

/** Writes the generated module beside a copy of the runtime, bundles it as a browser would, runs it. */
async function load(source: string): Promise<{ checks: Checks; dir: string }> {
  const dir = workDir('validators');
  fs.mkdirSync(path.join(dir, 'runtime'));
  fs.writeFileSync(path.join(dir, 'runtime/validation.ts'), RUNTIME);
  fs.writeFileSync(path.join(dir, 'validate.ts'), source);
  const result = await build({
    entryPoints: [path.join(dir, 'validate.ts')],
    bundle: true,
    format: 'cjs',
    platform: 'browser',
    write: false,
  });
  const mod = { exports: {} as Record<string, (v: unknown, p: string, o: Issue[]) => void> };
  new Function('module', 'exports', result.outputFiles[0]!.text)(mod, mod.exports);
  const checks: Checks = {};
  for (const [name, fn] of Object.entries(mod.exports)) {
    checks[name] = (v) => {
      const out: Issue[] = [];
      fn(v, 'data', out);
      return out;
    };
  }
  return { checks, dir };
}

let checks: Checks;
let source: string;

beforeAll(async () => {
  source = validationImport('./runtime/validation.js') + '\n' + validatorDeclarations(TYPES, typeMap(TYPES));
  ({ checks } = await load(source));
});

const issue = (path: string, message: string): Issue => ({ path, message });

describe('generated validators', () => {
  it('cannot be injected into by a hostile pattern', () => {
    expect((globalThis as { pwned?: unknown }).pwned).toBeUndefined();
    expect(source).toContain('new RegExp("^[a-z]+\\"\\\\);globalThis.pwned=1;//`\\\\$\\\\{x\\\\}`\\u2028$", "u")');
  });

  it.each<[string, { type: string; given: unknown; want: Issue[] }]>([
    [
      'hostile keys, all valid',
      {
        type: 'Hostile',
        given: JSON.parse(
          '{"a b":"ab","__proto__":7,"0abc":"é","*/":"abc\\");globalThis.pwned=1;//`${x}`\\u2028","\\"":"q\\"uote","é":9.5,"constructor":true}',
        ),
        want: [],
      },
    ],
    [
      'hostile keys, every constraint broken',
      {
        type: 'Hostile',
        given: JSON.parse(
          '{"a b":"abcd","__proto__":1.5,"0abc":"x","*/":"ABC","\\"":"q","é":10,"constructor":"yes","extra":1}',
        ),
        want: [
          issue('data["a b"]', 'must be at most 3 characters long'),
          issue('data.__proto__', 'must be an integer in the int32 range'),
          issue('data["0abc"]', 'must be one of "x y", "é"'),
          issue('data["*/"]', `must match the pattern ${JSON.stringify(HOSTILE_PATTERN)}`),
          issue('data["\\""]', 'must be "q\\"uote"'),
          issue('data["é"]', 'must be < 10'),
          issue('data.constructor', 'expected a boolean, got string'),
          issue('data', 'unexpected property "extra"'),
        ],
      },
    ],
    [
      'missing required properties; inherited keys are not own',
      {
        type: 'Hostile',
        given: {},
        want: [
          issue('data', 'missing required property "a b"'),
          issue('data', 'missing required property "0abc"'),
          issue('data', 'missing required property "\\""'),
        ],
      },
    ],
    ['not an object', { type: 'Hostile', given: [], want: [issue('data', 'expected an object, got array')] }],
    ['recursive, valid', { type: 'Tree', given: { value: 1, children: [{ value: 2, children: [] }] }, want: [] }],
    [
      'recursive, deep error has the full path',
      {
        type: 'Tree',
        given: { value: 1, children: [{ value: 2 }, { value: -1, children: [{ value: 'x' }] }] },
        want: [
          issue('data.children[1].value', 'must be an integer in the uint32 range'),
          issue('data.children[1].children[0].value', 'expected an integer, got string'),
        ],
      },
    ],
    [
      'too many items',
      {
        type: 'Tree',
        given: { value: 1, children: [{ value: 1 }, { value: 2 }, { value: 3 }] },
        want: [issue('data.children', 'must have at most 2 items')],
      },
    ],
    [
      'ref alias',
      { type: 'Alias', given: { value: 'x' }, want: [issue('data.value', 'expected an integer, got string')] },
    ],
    ['nullable: null', { type: 'Nullable', given: null, want: [] }],
    ['nullable: value', { type: 'Nullable', given: 'x', want: [] }],
    [
      'nullable: wrong type',
      { type: 'Nullable', given: 3, want: [issue('data', 'expected a string or null, got number')] },
    ],
    [
      'nullable: constraint of the variant',
      { type: 'Nullable', given: '', want: [issue('data', 'must be at least 1 characters long')] },
    ],
    ['union of refs: first', { type: 'Shape', given: { kind: 'circle', r: 1 }, want: [] }],
    ['union of refs: second', { type: 'Shape', given: { kind: 'square', side: 1 }, want: [] }],
    [
      'union of refs: neither, one issue',
      {
        type: 'Shape',
        given: { kind: 'circle', side: 1 },
        want: [issue('data', 'expected Circle or Square, got object')],
      },
    ],
    ['scalar union', { type: 'Scalar', given: 12, want: [] }],
    [
      'scalar union: no match',
      {
        type: 'Scalar',
        given: {},
        want: [issue('data', 'expected a string, an integer or a boolean or null, got object')],
      },
    ],
    [
      'scalar union: int64 beyond safe',
      {
        type: 'Scalar',
        given: 2 ** 53,
        want: [issue('data', 'expected a string, an integer or a boolean or null, got number')],
      },
    ],
    ['mixed union: enum', { type: 'Choice', given: 'b', want: [] }],
    ['mixed union: literal', { type: 'Choice', given: 3, want: [] }],
    ['mixed union: array', { type: 'Choice', given: ['x'], want: [] }],
    [
      'mixed union: none',
      { type: 'Choice', given: [1], want: [issue('data', 'expected one of "a", "b", 3 or an array, got array')] },
    ],
    [
      'formats, valid',
      {
        type: 'Formats',
        given: {
          id: '123e4567-e89b-12d3-a456-426614174000',
          at: '2024-01-02T03:04:05Z',
          day: '2024-02-29',
          mail: 'a@b.c',
          link: 'https://x.y/z',
          blob: 'AA==',
          free: 'anything',
        },
        want: [],
      },
    ],
    [
      'formats, invalid',
      {
        type: 'Formats',
        given: { id: 'nope', at: '2024-01-02', day: '2023-02-29', mail: 'a b@c', link: 'relative', blob: '***' },
        want: [
          issue('data.id', 'must be a valid uuid'),
          issue('data.at', 'must be a valid date-time'),
          issue('data.day', 'must be a valid date'),
          issue('data.mail', 'must be a valid email'),
          issue('data.link', 'must be a valid uri'),
          issue('data.blob', 'must be a valid byte'),
        ],
      },
    ],
    [
      'numbers, valid',
      { type: 'Numbers', given: { i32: -5, u32: 4294967295, i64: 9007199254740991, f: 1.5 }, want: [] },
    ],
    [
      'numbers, out of range',
      {
        type: 'Numbers',
        given: { i32: 6, u32: 4294967296, i64: 0, f: 1.75 },
        want: [
          issue('data.i32', 'must be <= 5'),
          issue('data.u32', 'must be an integer in the uint32 range'),
          issue('data.i64', 'must be > 0'),
          issue('data.f', 'must be <= 1.5'),
        ],
      },
    ],
    [
      'map',
      {
        type: 'Labels',
        given: { 'a b': 'ok', x: 'long' },
        want: [issue('data.x', 'must be at most 2 characters long')],
      },
    ],
    ['map: not an object', { type: 'Labels', given: null, want: [issue('data', 'expected an object, got null')] }],
    ['additional true allows any key', { type: 'Open', given: { x: 1, y: {} }, want: [] }],
    [
      'additional schema checks extra keys only',
      {
        type: 'Typed',
        given: { x: 1, y: true, 'z z': 2 },
        want: [issue('data["z z"]', 'expected a boolean, got number')],
      },
    ],
    [
      'array of nullable items',
      { type: 'List', given: [1, null, 'x'], want: [issue('data[2]', 'expected an integer or null, got string')] },
    ],
    ['minItems', { type: 'List', given: [], want: [issue('data', 'must have at least 1 items')] }],
    ['unknown accepts anything', { type: 'Any', given: Symbol.iterator, want: [] }],
  ])('%s', (_name, { type, given, want }) => {
    expect(checks[`check${type}`]!(given)).toEqual(want);
  });

  it('type-checks under tsc --strict', () => {
    expect(typecheck('validators', { 'runtime/validation.ts': RUNTIME, 'validate.ts': source })).toEqual([]);
  });
});

describe('checkStatements', () => {
  it('checks an inline node through any expressions, sharing a pattern pool', async () => {
    const pool = createPatternPool();
    const node: SchemaNode = obj([
      prop('conversationId', str({ format: 'uuid' })),
      prop('tag', str({ pattern: '^t' }), { required: false }),
    ]);
    const body = checkStatements(node, 'input.params', '"params"', 'issues', typeMap(TYPES), pool);
    const again = checkStatements(str({ pattern: '^t' }), 'input.tag', '"tag"', 'issues', typeMap(TYPES), pool);
    const module = `${validationImport('./runtime/validation.js')}
${pool.declarations()}
export function checkInput(input: { params: unknown; tag: unknown }, _p: string, issues: rt.Issue[]): void {
${body}${again}}
`;
    expect(pool.declarations()).toBe('const $re0 = new RegExp("^t", "u");\n');
    expect(typecheck('check-statements', { 'runtime/validation.ts': RUNTIME, 'validate.ts': module })).toEqual([]);
    const { checks: loaded } = await load(module);
    expect(loaded.checkInput!({ params: { conversationId: 'x', tag: 'u' }, tag: 'v' })).toEqual([
      issue('params.conversationId', 'must be a valid uuid'),
      issue('params.tag', 'must match the pattern "^t"'),
      issue('tag', 'must match the pattern "^t"'),
    ]);
  });

  it('prints nothing for a node that accepts anything', () => {
    expect(checkStatements(unknown(), 'x', '"x"', 'out', new Map())).toBe('');
  });

  it('calls the named check for a ref', () => {
    expect(checkStatements(ref('Tree'), 'msg.data', '"data"', 'out', typeMap(TYPES))).toBe(
      '{\n  checkTree(msg.data, "data", out);\n}\n',
    );
  });
});

describe('patterns', () => {
  it('reports a pattern JavaScript cannot compile with the u flag', () => {
    expect(patternError('^a+$')).toBeUndefined();
    expect(patternError('(?<n>a')).toMatch(/Invalid regular expression/);
    expect(() => validatorDeclarations([named('Bad', str({ pattern: '\\p{Nope}' }))], new Map())).toThrow(
      /is not valid/,
    );
  });
});
