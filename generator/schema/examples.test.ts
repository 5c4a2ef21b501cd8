import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Issue } from '../../templates/runtime/validation.ts';
import type { NamedType, SchemaNode } from '../ir/types.ts';
import { lintSpec } from '../pipeline.ts';
import { example, exampleValue, fromPattern } from './examples.ts';
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
  removeWorkDirs,
  str,
  typeMap,
  union,
  unknown,
  workDir,
} from './fixtures.ts';
import { validationImport, validatorDeclarations } from './validators.ts';

afterAll(removeWorkDirs);

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SEEDS = Array.from({ length: 12 }, (_, i) => i);

// Every shape the maker has a branch for, with constraints that a careless value would break.
const TYPES: NamedType[] = [
  named(
    'Strings',
    obj([
      prop('plain', str()),
      prop('long', str({ minLength: 12 })),
      prop('short', str({ maxLength: 2 })),
      prop('exact', str({ minLength: 3, maxLength: 3 })),
      prop('id', str({ format: 'uuid' })),
      prop('at', str({ format: 'date-time' })),
      prop('day', str({ format: 'date' })),
      prop('mail', str({ format: 'email' })),
      prop('link', str({ format: 'uri' })),
      prop('blob', str({ format: 'byte' })),
      prop('free', str({ format: 'made-up' })),
    ]),
  ),
  named(
    'Patterns',
    obj([
      prop('hex', str({ pattern: '^[0-9a-f]{32}$' })),
      prop('code', str({ pattern: '^[A-Z]{2}-\\d{3,5}$' })),
      prop('alt', str({ pattern: '^(foo|bar)+(?:-baz)?$' })),
      prop('named', str({ pattern: '^(?<year>\\d{4})-(0[1-9]|1[0-2])$' })),
      prop('semver', str({ pattern: '^v[0-9]+(\\.[0-9]+){2}$' })),
      prop('nospace', str({ pattern: '^[^\\s]+$', maxLength: 4 })),
      prop('unanchored', str({ pattern: 'ab' })),
      prop('escaped', str({ pattern: '^a\\.b\\/c-d$' })),
      prop('uuidish', str({ pattern: '^0', format: 'uuid' })),
    ]),
  ),
  named(
    'Numbers',
    obj([
      prop('i32', int('int32')),
      prop('small', int('int32', { minimum: -5, maximum: 5 })),
      prop('high', int('int32', { minimum: 100 })),
      prop('negative', int('int64', { maximum: -10 })),
      prop('one', int('int32', { minimum: 7, maximum: 7 })),
      prop('exclusive', int('int64', { exclusiveMinimum: 0, exclusiveMaximum: 3 })),
      prop('u32', int('uint32')),
      prop('f', num('float', { maximum: 1.5 })),
      prop('unit', num('double', { exclusiveMinimum: 0, exclusiveMaximum: 1 })),
      prop('point', num('double', { minimum: 2, maximum: 2 })),
      prop('big', num('double', { minimum: 1000 })),
    ]),
  ),
  named('Tree', obj([prop('value', int('uint32')), prop('children', arr(ref('Tree')))])),
  named('Nullable', union(str({ minLength: 1 }), nul())),
  named('Circle', obj([prop('kind', lit('circle')), prop('r', num())])),
  named('Square', obj([prop('kind', lit('square')), prop('side', num())])),
  named('Shape', union(ref('Circle'), ref('Square'))),
  named('Scalar', union(str(), int('int64'), bool(), nul())),
  named(
    'Hostile',
    obj([
      prop('__proto__', int('int32')),
      prop('constructor', bool()),
      prop('a b', enm('x y', 'é')),
      prop('opt', str(), { required: false }),
    ]),
  ),
  named('Labels', map(str({ maxLength: 2 }))),
  named('Triple', arr(lit(3), { minItems: 3, maxItems: 3 })),
  named('Any', unknown()),
  named('Alias', ref('Tree')),
  named('Choice', union(enm('a', 'b'), lit(3), arr(str()))),
  named('FromContract', { ...str({ pattern: '^q+$' }), examples: ['q', 'qq', 'qqq'] } as SchemaNode),
  named('Defaulted', obj([prop('n', { ...int('int32', { minimum: 50 }), default: 64 } as SchemaNode)])),
  named('Deep', obj([prop('next', ref('Deep'), { required: false }), prop('leaf', bool())])),
];
const TYPE_MAP = typeMap(TYPES);

type Checks = Record<string, (v: unknown) => Issue[]>;

/** The generated validators for TYPES, bundled and run as validators.test.ts does. */
async function loadChecks(): Promise<Checks> {
  const dir = workDir('examples');
  fs.mkdirSync(path.join(dir, 'runtime'));
  fs.copyFileSync(path.join(ROOT, 'templates/runtime/validation.ts'), path.join(dir, 'runtime/validation.ts'));
  fs.writeFileSync(
    path.join(dir, 'validate.ts'),
    validationImport('./runtime/validation.js') + '\n' + validatorDeclarations(TYPES, TYPE_MAP),
  );
  const result = await build({ entryPoints: [path.join(dir, 'validate.ts')], bundle: true, format: 'cjs', platform: 'node', write: false });
  const mod = { exports: {} as Record<string, (v: unknown, p: string, o: Issue[]) => void> };
  new Function('module', 'exports', result.outputFiles[0]!.text)(mod, mod.exports);
  return Object.fromEntries(
    Object.entries(mod.exports).map(([name, fn]) => [
      name,
      (v: unknown) => {
        const out: Issue[] = [];
        fn(v, 'data', out);
        return out;
      },
    ]),
  );
}

let checks: Checks;
beforeAll(async () => {
  checks = await loadChecks();
});

describe('exampleValue', () => {
  it.each(TYPES.map((t) => [t.key, t] as const))('%s: valid for its own generated validator at every seed', (_, t) => {
    for (const seed of SEEDS) {
      const { value, problems } = example(ref(t.key), TYPE_MAP, seed);
      expect(problems, `seed ${seed}`).toEqual([]);
      // Through JSON, as the mock sends it: a value that only validates in memory is no use.
      const wire = JSON.parse(JSON.stringify(value)) as unknown;
      expect(checks[`check${t.name.type}`]!(wire), `seed ${seed}: ${JSON.stringify(value)}`).toEqual([]);
    }
  });

  it.each<[string, { given: SchemaNode; seed: number; want: unknown }]>([
    ['contract examples first, cycled by seed', { given: ref('FromContract'), seed: 4, want: 'qq' }],
    ['default when there are no examples', { given: ref('Defaulted'), seed: 0, want: { n: 64 } }],
    ['null default kept', { given: { ...str(), default: null } as SchemaNode, seed: 0, want: null }],
    ['integer is the seed when it fits', { given: int('int32', { minimum: 0 }), seed: 9, want: 9 }],
    ['integer wraps into a narrow range', { given: int('int32', { minimum: 1, maximum: 3 }), seed: 7, want: 2 }],
    ['integer above a high minimum', { given: int('int32', { minimum: 100 }), seed: 2, want: 102 }],
    ['number inside exclusive bounds', { given: num('double', { exclusiveMinimum: 0, exclusiveMaximum: 1 }), seed: 0, want: 0.5 }],
    ['enum cycled by seed', { given: enm('stop', 'length', 'cancelled'), seed: 4, want: 'length' }],
    ['boolean alternates', { given: bool(), seed: 1, want: false }],
    ['uuid from the seed', { given: str({ format: 'uuid' }), seed: 26, want: '00000000-0000-4000-8000-00000000001a' }],
    ['date-time a minute per seed', { given: str({ format: 'date-time' }), seed: 2, want: '2024-01-01T00:02:00.000Z' }],
    ['date a day per seed', { given: str({ format: 'date' }), seed: 31, want: '2024-02-01' }],
    ['padded to minLength', { given: str({ minLength: 8 }), seed: 0, want: 'alphaxxx' }],
    ['cut to maxLength', { given: str({ maxLength: 3 }), seed: 2, want: 'cha' }],
    ['optional properties on even seeds', { given: obj([prop('a', int()), prop('b', int(), { required: false })]), seed: 0, want: { a: 0, b: 0 } }],
    ['no optional properties on odd seeds', { given: obj([prop('a', int()), prop('b', int(), { required: false })]), seed: 1, want: { a: 1 } }],
    ['recursion stops at empty arrays', { given: ref('Alias'), seed: 0, want: { value: 0, children: [{ value: 0, children: [] }] } }],
  ])('%s', (_, { given, seed, want }) => {
    expect(exampleValue(given, TYPE_MAP, seed)).toEqual(want);
  });

  it('is deterministic, and varies with the seed', () => {
    for (const t of TYPES) {
      for (const seed of SEEDS) expect(exampleValue(ref(t.key), TYPE_MAP, seed)).toEqual(exampleValue(ref(t.key), TYPE_MAP, seed));
    }
    const ids = new Set(SEEDS.map((s) => (exampleValue(ref('Patterns'), TYPE_MAP, s) as { hex: string }).hex));
    expect(ids.size).toBe(SEEDS.length);
  });

  it('keeps __proto__ an own property', () => {
    const v = exampleValue(ref('Hostile'), TYPE_MAP, 0) as Record<string, unknown>;
    expect(Object.keys(v)).toEqual(['__proto__', 'constructor', 'a b', 'opt']);
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
  });

  it.each<[string, { given: SchemaNode; types?: NamedType[]; want: string }]>([
    ['a pattern no candidate matches', { given: str({ pattern: '^(?!a)q\\d$' }), want: 'no example matches the pattern "^(?!a)q\\\\d$"; add examples: [...] to the schema' }],
    ['an integer range with nothing inside', { given: int('int32', { exclusiveMinimum: 1, exclusiveMaximum: 2 }), want: 'no integer lies between the bounds' }],
    ['an empty enum', { given: enm(), want: 'an empty enum has no valid value' }],
    [
      'required recursion without end',
      { given: ref('Loop'), types: [named('Loop', obj([prop('next', ref('Loop'))]))], want: 'the schema requires itself without end, so no finite example exists' },
    ],
  ])('reports %s', (_, { given, types = [], want }) => {
    const { problems } = example(given, typeMap(types), 0);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]).toEqual({ pos: given.kind === 'ref' ? types[0]!.schema.pos : given.pos, message: want });
  });
});

describe('fromPattern', () => {
  it.each<[string, string | undefined]>([
    ['^[0-9a-f]{4}$', '0369'],
    ['^ab?c*d+$', 'abcd'],
    ['^(x|y|z)$', 'x'],
    ['^\\d{2}\\.\\w$', '03.g'],
    ['^(?=a)a$', undefined],
    ['^a\\1$', undefined],
    ['^(a$', undefined],
  ])('%s -> %s', (pattern, want) => {
    expect(fromPattern(pattern, 0)).toBe(want);
  });
});

// The example contracts, against the validators committed in generated/: every message, terminal
// payload, request and parameter the mock would serve or need.
describe.each(['assistant', 'telemetry', 'room', 'ingest'])('spec/%s.yaml examples', (id) => {
  it('pass the generated validators', async () => {
    const lint = lintSpec(`spec/${id}.yaml`, { cwd: ROOT });
    const contract = lint.contract!;
    expect(contract).toBeDefined();
    const types = new Map(contract.types.map((t) => [t.key, t]));
    const v = (await import(path.join(ROOT, `generated/${id}/validate.ts`))) as Record<string, (x: unknown) => Issue[]>;
    for (const s of contract.streams) {
      const P = s.name.pascal;
      for (const seed of SEEDS) {
        const messages = [...s.messages.map((m) => [m.name.wire, m.payload] as const), [s.termination.message.wire, s.termination.payload] as const];
        for (const [type, payload] of messages) {
          const r = payload ? example(payload, types, seed) : { value: null, problems: [] };
          expect(r.problems).toEqual([]);
          const m = JSON.parse(JSON.stringify({ type, data: r.value })) as unknown;
          expect(v[`validate${P}Message`]!(m), `${s.name.wire} ${type} seed ${seed}: ${JSON.stringify(m)}`).toEqual([]);
        }
        if (s.request) expect(v[`validate${P}Request`]!(exampleValue(s.request, types, seed))).toEqual([]);
        const params = Object.fromEntries(s.params.map((p) => [p.name.wire, exampleValue(p.schema, types, seed)]));
        expect(v[`validate${P}Params`]!(params)).toEqual([]);
      }
    }
  });
});
