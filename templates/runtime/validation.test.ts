import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { checkError, dot, expected, formats, hasOwn, isInt, isObject, join, kind, length, type Issue } from './validation.ts';

describe('join', () => {
  it.each([
    ['identifier under root', { given: ['request', 'name'] as const, want: 'request.name' }],
    ['index', { given: ['request.items', 2] as const, want: 'request.items[2]' }],
    ['key with a space', { given: ['data', 'a b'] as const, want: 'data["a b"]' }],
    ['key with a quote', { given: ['data', 'a"b'] as const, want: 'data["a\\"b"]' }],
    ['leading digit', { given: ['data', '0abc'] as const, want: 'data["0abc"]' }],
    ['non-ASCII', { given: ['data', 'é'] as const, want: 'data["é"]' }],
    ['empty root', { given: ['', 'name'] as const, want: 'name' }],
    ['empty key', { given: ['data', ''] as const, want: 'data[""]' }],
  ])('%s', (_name, { given, want }) => {
    expect(join(given[0], given[1])).toBe(want);
  });
});

// The generator calls dot, not join, for a property key that is an identifier (no regex per
// valid message): it must build the very path join would.
describe('dot', () => {
  it.each([
    ['', 'name'],
    ['request', 'name'],
    ['data.items[2]', '$ref'],
    ['data', '_x9'],
  ])('%j . %j is what join gives', (path, key) => {
    expect(dot(path, key)).toBe(join(path, key));
    expect(dot(path, key)).toBe(path ? `${path}.${key}` : key);
  });
});

describe('type tests', () => {
  it('isObject rejects arrays and null', () => {
    expect([isObject({}), isObject([]), isObject(null), isObject('x')]).toEqual([true, false, false, false]);
  });
  it('hasOwn ignores inherited keys, sees an own __proto__', () => {
    expect(hasOwn({}, 'toString')).toBe(false);
    expect(hasOwn(JSON.parse('{"__proto__":1}') as object, '__proto__')).toBe(true);
  });
  it.each([
    [null, 'null'],
    [[1], 'array'],
    [1, 'number'],
    ['x', 'string'],
    [{}, 'object'],
    [true, 'boolean'],
  ])('kind(%j) is %s', (v, want) => {
    expect(kind(v)).toBe(want);
  });
  it('expected() names what was wanted and what came', () => {
    const out: Issue[] = [];
    expected(out, 'data.x', 'a string', 3);
    expect(out).toEqual([{ path: 'data.x', message: 'expected a string, got number' }]);
  });
  it('length counts code points', () => {
    expect(length('a😀é')).toBe(3);
  });
});

describe('isInt', () => {
  it.each([
    ['int32 max', { given: [2147483647, 'int32'] as const, want: true }],
    ['int32 overflow', { given: [2147483648, 'int32'] as const, want: false }],
    ['int32 min', { given: [-2147483648, 'int32'] as const, want: true }],
    ['int32 underflow', { given: [-2147483649, 'int32'] as const, want: false }],
    ['uint32 negative', { given: [-1, 'uint32'] as const, want: false }],
    ['uint32 max', { given: [4294967295, 'uint32'] as const, want: true }],
    ['uint32 overflow', { given: [4294967296, 'uint32'] as const, want: false }],
    ['int64 safe', { given: [Number.MAX_SAFE_INTEGER, 'int64'] as const, want: true }],
    ['int64 unsafe', { given: [2 ** 53, 'int64'] as const, want: false }],
    ['int64 negative', { given: [-5, 'int64'] as const, want: true }],
    ['uint64 negative', { given: [-1, 'uint64'] as const, want: false }],
    ['fraction', { given: [1.5, 'int64'] as const, want: false }],
  ])('%s', (_name, { given, want }) => {
    expect(isInt(given[0], given[1])).toBe(want);
  });
});

describe('formats', () => {
  it.each([
    ['uuid', '123e4567-e89b-12d3-a456-426614174000', true],
    ['uuid', '123e4567-e89b-12d3-a456-42661417400', false],
    ['uuid', '123e4567e89b12d3a456426614174000', false],
    ['date', '2024-02-29', true],
    ['date', '2023-02-29', false],
    ['date', '2024-13-01', false],
    ['date', '2024-1-01', false],
    ['date-time', '2024-02-29T23:59:60Z', true],
    ['date-time', '2024-02-29t10:00:00.123+05:30', true],
    ['date-time', '2024-02-29T24:00:00Z', false],
    ['date-time', '2024-02-29T10:00:00', false],
    ['date-time', '2024-02-29 10:00:00Z', false],
    ['date-time', '2024-02-29T10:00:00+25:00', false],
    ['email', 'a.b+c@example.com', true],
    ['email', 'a@localhost', true],
    ['email', 'a b@example.com', false],
    ['email', 'a@@example.com', false],
    ['email', 'a@example..com', false],
    ['uri', 'https://example.com/a?b#c', true],
    ['uri', 'urn:isbn:0451450523', true],
    ['uri', '/relative/path', false],
    ['uri', 'https://exa mple.com', false],
    ['byte', 'aGVsbG8=', true],
    ['byte', '', true],
    ['byte', 'aGVsbG8', false],
    ['byte', 'a-_b', false],
  ])('%s %j -> %s', (format, value, want) => {
    expect(formats[format]!(value)).toBe(want);
  });
});

describe('checkError', () => {
  const codes = ['RATE_LIMITED', 'INTERNAL'];
  it.each<[string, { given: unknown; want: Issue[] }]>([
    ['valid', { given: { code: 'INTERNAL', message: 'x', retryable: true }, want: [] }],
    ['valid without retryable', { given: { code: 'RATE_LIMITED', message: '' }, want: [] }],
    ['not an object', { given: 'boom', want: [{ path: 'data', message: 'expected an object, got string' }] }],
    [
      'every field wrong',
      {
        given: { code: 'NOPE', message: 1, retryable: 'yes', extra: 1 },
        want: [
          { path: 'data.code', message: 'must be one of "RATE_LIMITED", "INTERNAL"' },
          { path: 'data.message', message: 'expected a string, got number' },
          { path: 'data.retryable', message: 'expected a boolean, got string' },
          { path: 'data', message: 'unexpected property "extra"' },
        ],
      },
    ],
    [
      'missing fields',
      {
        given: {},
        want: [
          { path: 'data.code', message: 'must be one of "RATE_LIMITED", "INTERNAL"' },
          { path: 'data.message', message: 'expected a string, got undefined' },
        ],
      },
    ],
  ])('%s', (_name, { given, want }) => {
    const out: Issue[] = [];
    checkError(given, 'data', out, codes);
    expect(out).toEqual(want);
  });
});

describe('size', () => {
  it('stays small in a minified browser bundle', async () => {
    const entry = fileURLToPath(new URL('./validation.ts', import.meta.url));
    const result = await build({ entryPoints: [entry], bundle: true, minify: true, format: 'esm', write: false });
    const gz = gzipSync(result.outputFiles[0]!.contents).length;
    // Shares a 2.5 KB gzipped client budget with the rest of the runtime.
    expect(gz).toBeLessThan(1100);
  });
});
