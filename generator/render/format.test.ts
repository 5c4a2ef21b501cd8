import { describe, expect, it } from 'vitest';
import { formatJson, formatTs, formatTsPieces, splitTopLevel } from './format.ts';

describe('formatTs', () => {
  it.each([
    ['single quotes, semicolons', { given: 'const a = "x"\n', want: "const a = 'x';\n" }],
    ['keeps double quotes that avoid escapes', { given: `const a = "it's"\n`, want: `const a = "it's";\n` }],
    ['CRLF becomes LF', { given: 'const a = 1;\r\nconst b = 2;\r\n', want: 'const a = 1;\nconst b = 2;\n' }],
    [
      'trailing commas everywhere',
      {
        given: `f(aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb, cccccccccccccccccccccccccccc, d);`,
        want: 'f(\n  aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,\n  bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb,\n  cccccccccccccccccccccccccccc,\n  d,\n);\n',
      },
    ],
    [
      // 95 columns: wrapped at prettier's default width of 80, kept at ours of 100.
      'print width 100',
      { given: `export const x = f(${'a'.repeat(30)}, ${'b'.repeat(30)}, ccccccccccccc);`, want: `export const x = f(${'a'.repeat(30)}, ${'b'.repeat(30)}, ccccccccccccc);\n` },
    ],
    [
      'escapes in strings survive',
      { given: 'const s = "\\u2028\\u2029\\u{1f600}`${x}`";', want: "const s = '\\u2028\\u2029\\u{1f600}`${x}`';\n" },
    ],
    [
      'computed __proto__ key stays computed',
      { given: 'const o = { ["__proto__"]: 1, "a-b": 2, "c": 3 };', want: "const o = { ['__proto__']: 1, 'a-b': 2, c: 3 };\n" },
    ],
    [
      'TypeScript syntax',
      {
        given: 'export type U = {type:"a",data:A}|{type:"b",data:readonly [string, number?]}; export interface A { readonly "x-y"?: string }',
        want: "export type U = { type: 'a'; data: A } | { type: 'b'; data: readonly [string, number?] };\nexport interface A {\n  readonly 'x-y'?: string;\n}\n",
      },
    ],
  ] as const)('%s', async (_name, { given, want }) => {
    expect(await formatTs(given, 'a.ts')).toBe(want);
  });

  it('is deterministic and idempotent', async () => {
    const src = 'export async function* g<T>(v:T){for await(const x of [v]) yield x}\n/** doc */\nexport const o={a:1,b:[1,2,3]}';
    const once = await formatTs(src, 'a.ts');
    expect(await formatTs(src, 'a.ts')).toBe(once);
    expect(await formatTs(once, 'a.ts')).toBe(once);
  });

  it('names the file when the text does not parse', async () => {
    await expect(formatTs('const = 1;', 'generated/assistant/types.ts')).rejects.toThrowError(
      /^internal: cannot format generated generated\/assistant\/types\.ts: Unexpected token \(1:7\)/,
    );
  });
});

describe('formatJson', () => {
  it.each([
    ['objects and arrays', { given: '{"b":1,"a":[1,2],"c":{"d":"x"}}', want: '{ "b": 1, "a": [1, 2], "c": { "d": "x" } }\n' }],
    ['keeps double quotes and key order', { given: '{\n"z": "it\'s", "a": true}', want: '{\n  "z": "it\'s",\n  "a": true\n}\n' }],
    ['CRLF becomes LF', { given: '{\r\n"a": 1\r\n}\r\n', want: '{\n  "a": 1\n}\n' }],
  ] as const)('%s', async (_name, { given, want }) => {
    expect(await formatJson(given, 'a.json')).toBe(want);
  });

  it('names the file when the text does not parse', async () => {
    await expect(formatJson('{"a":}', 'x/package.json')).rejects.toThrowError(/^internal: cannot format generated x\/package\.json: /);
  });
});

describe('formatTsPieces', () => {
  const text = '// head\n\nexport const a = {b:1};\n\n\n/** doc */\nexport function f(){return [\n\n  1\n\n]}\n\nexport type U =\n\n  | 1\n  | 2;\n';

  it('splits at column-0 statements after a blank line, never inside a statement', () => {
    expect(splitTopLevel(text)).toEqual(['// head\n', 'export const a = {b:1};\n', '/** doc */\nexport function f(){return [\n\n  1\n\n]}\n', 'export type U =\n\n  | 1\n  | 2;\n']);
  });

  it('formats like the whole file, and reuses known pieces instead of formatting them', async () => {
    const known = new Map<string, string>();
    const first = await formatTsPieces(text, 'x.ts', known);
    expect(first.text).toBe(await formatTs(text, 'x.ts'));
    expect(known.size).toBe(4);
    // A piece we claim to know is taken as given: proof that it was not formatted again.
    const edited = text.replace('{b:1}', '{b:2}');
    const fake = new Map([...known].map(([h, f]) => [h, f.includes('function f') ? `${f}// reused\n` : f]));
    const second = await formatTsPieces(edited, 'x.ts', fake);
    expect(second.text).toContain('export const a = { b: 2 };');
    expect(second.text).toContain('// reused');
    expect(second.chunks.split(',')).toHaveLength(4);
  });
});
