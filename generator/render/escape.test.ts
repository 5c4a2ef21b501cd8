import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { code, jsDoc, lineComment, markdownText, protoComment, protoIdent, protoString, tsIdent, tsPropKey, tsString, tsValue } from './escape.ts';

// Inputs every escaper must survive (STYLE.md 4), with their expected output per helper below.
const Q = '"';
const LS = '\u2028';
const PS = '\u2029';

describe('tsString', () => {
  it.each([
    ['double quote', { given: Q, want: '"\\""' }],
    ['single quote', { given: "'", want: `"'"` }],
    ['backtick', { given: '`', want: '"`"' }],
    ['template hole', { given: '${x}', want: '"${x}"' }],
    ['comment end', { given: '*/', want: '"*/"' }],
    ['LF', { given: 'a\nb', want: '"a\\nb"' }],
    ['CRLF', { given: 'a\r\nb', want: '"a\\r\\nb"' }],
    ['U+2028', { given: `a${LS}b`, want: '"a\\u2028b"' }],
    ['U+2029', { given: `a${PS}b`, want: '"a\\u2029b"' }],
    ['backslash', { given: 'a\\b', want: '"a\\\\b"' }],
    ['tab and NUL', { given: 'a\tb\0', want: '"a\\tb\\u0000"' }],
    ['reserved word', { given: 'class', want: '"class"' }],
    ['__proto__', { given: '__proto__', want: '"__proto__"' }],
    ['leading digit', { given: '0abc', want: '"0abc"' }],
    ['é', { given: 'é', want: '"\\u00e9"' }],
    ['emoji', { given: '😀', want: '"\\u{1f600}"' }],
    ['lone surrogate', { given: '\ud800', want: '"\\ud800"' }],
  ])('%s', (_name, { given, want }) => {
    expect(tsString(given)).toBe(want);
  });
});

describe('tsIdent', () => {
  it.each([
    ['plain', { given: 'token', want: 'token' }],
    ['reserved word', { given: 'class', want: 'class$' }],
    ['constructor', { given: 'constructor', want: 'constructor$' }],
    ['__proto__', { given: '__proto__', want: '__proto__$' }],
    ['runtime name', { given: 'globalThis', want: 'globalThis$' }],
  ])('%s', (_name, { given, want }) => {
    expect(tsIdent(given)).toBe(want);
  });

  it.each([Q, "'", '`', '${x}', '*/', 'a\nb', `a${LS}b`, '0abc', 'é', '😀', ''])('refuses %j', (given) => {
    expect(() => tsIdent(given)).toThrowError(`internal: not an identifier: ${JSON.stringify(given)}`);
  });
});

describe('tsPropKey', () => {
  it.each([
    ['identifier stays bare', { given: 'text', want: 'text' }],
    ['reserved words are fine as keys', { given: 'class', want: 'class' }],
    ['constructor', { given: 'constructor', want: 'constructor' }],
    ['__proto__ is computed, so it never sets the prototype', { given: '__proto__', want: '["__proto__"]' }],
    ['leading digit', { given: '0abc', want: '"0abc"' }],
    ['dash', { given: 'x-y', want: '"x-y"' }],
    ['double quote', { given: Q, want: '"\\""' }],
    ['backtick and hole', { given: '`${x}`', want: '"`${x}`"' }],
    ['U+2028', { given: LS, want: '"\\u2028"' }],
    ['é', { given: 'é', want: '"\\u00e9"' }],
    ['emoji', { given: '😀', want: '"\\u{1f600}"' }],
  ])('%s', (_name, { given, want }) => {
    expect(tsPropKey(given)).toBe(want);
  });
});

describe('jsDoc', () => {
  it.each([
    ['quotes and backtick pass', { given: `"'\`\${x}`, want: `"'\`\${x}` }],
    ['comment end', { given: 'a */ b', want: 'a *\\/ b' }],
    ['double star end', { given: '**/', want: '**\\/' }],
    ['LF', { given: 'a\nb', want: 'a\n * b' }],
    ['CRLF', { given: 'a\r\nb', want: 'a\n * b' }],
    ['CR', { given: 'a\rb', want: 'a\n * b' }],
    ['U+2028', { given: `a${LS}b`, want: 'a\n * b' }],
    ['U+2029', { given: `a${PS}b`, want: 'a\n * b' }],
    ['star, break, slash', { given: '*\n/', want: '*\n * /' }],
    ['trimmed', { given: '  text \n', want: 'text' }],
    ['words pass', { given: 'class constructor __proto__ 0abc é 😀', want: 'class constructor __proto__ 0abc é 😀' }],
  ])('%s', (_name, { given, want }) => {
    expect(jsDoc(given)).toBe(want);
  });
});

describe.each([
  ['lineComment', lineComment],
  ['protoComment', protoComment],
])('%s', (_name, escape) => {
  it.each([
    ['quotes, backtick, comment end pass', { given: `"'\`\${x} */`, want: `"'\`\${x} */` }],
    ['LF', { given: 'a\nb', want: 'a\n// b' }],
    ['CRLF', { given: 'a\r\nb', want: 'a\n// b' }],
    ['CR', { given: 'a\rb', want: 'a\n// b' }],
    ['U+2028', { given: `a${LS}b`, want: 'a\n// b' }],
    ['U+2029', { given: `a${PS}b`, want: 'a\n// b' }],
    ['trimmed', { given: ' a\n', want: 'a' }],
    ['words pass', { given: 'class constructor __proto__ 0abc é 😀', want: 'class constructor __proto__ 0abc é 😀' }],
  ])('%s', (_case, { given, want }) => {
    expect(escape(given)).toBe(want);
  });
});

describe('protoIdent', () => {
  it.each(['Token', 'finish_reason', 'class', 'constructor', '__proto__'])('passes %j', (given) => {
    expect(protoIdent(given)).toBe(given);
  });
  it.each([Q, '`', '${x}', 'a\nb', '0abc', 'é', '😀', 'a-b', '$x', ''])('refuses %j', (given) => {
    expect(() => protoIdent(given)).toThrowError(`internal: not a proto identifier: ${JSON.stringify(given)}`);
  });
});

describe('protoString', () => {
  it.each([
    ['double quote', { given: Q, want: '"\\""' }],
    ['single quote, backtick, hole', { given: "'`${x}", want: `"'\`\${x}"` }],
    ['backslash', { given: 'a\\b', want: '"a\\\\b"' }],
    ['LF', { given: 'a\nb', want: '"a\\012b"' }],
    ['CRLF', { given: 'a\r\nb', want: '"a\\015\\012b"' }],
    ['U+2028 as UTF-8 bytes', { given: LS, want: '"\\342\\200\\250"' }],
    ['é as UTF-8 bytes', { given: 'é', want: '"\\303\\251"' }],
    ['emoji as UTF-8 bytes', { given: '😀', want: '"\\360\\237\\230\\200"' }],
    ['words pass', { given: 'class __proto__ 0abc', want: '"class __proto__ 0abc"' }],
  ])('%s', (_name, { given, want }) => {
    expect(protoString(given)).toBe(want);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties: whatever the contract says, the escaped text stays inside its context.

const PAYLOADS = [
  '*/ globalThis.pwned = 1; /*',
  '\nglobalThis.pwned = 1;',
  '\r\nglobalThis.pwned = 1;',
  '\rglobalThis.pwned = 1;',
  `${LS}globalThis.pwned = 1;`,
  `${PS}globalThis.pwned = 1;`,
  '*\n/ globalThis.pwned = 1;',
  '**/globalThis.pwned = 1;/**',
  '"; globalThis.pwned = 1; "',
  "'; globalThis.pwned = 1; '",
  '`; globalThis.pwned = 1; `',
  '${globalThis.pwned = 1}',
  '\\"; globalThis.pwned = 1; //',
  '\\u2028globalThis.pwned = 1;',
  '\u0085globalThis.pwned = 1;',
  '</script><script>globalThis.pwned = 1</script>',
  '\ud800\udfff\ud800 globalThis.pwned = 1;',
  '\0\x01\x1b\x7f globalThis.pwned = 1;',
  '\ufeff\u200b\u00a0 globalThis.pwned = 1;',
  'class constructor __proto__ 0abc é 😀',
];

/** Deterministic random strings over the characters that matter (mulberry32, fixed seed). */
function fuzz(count: number): string[] {
  const alphabet = ['*', '/', '\\', '"', "'", '`', '$', '{', '}', '\n', '\r', LS, PS, '\0', 'u', '2', '0', '8', 'é', '😀', '\ud800', ' ', 'a'];
  let seed = 0x5eed;
  const next = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: count }, () => {
    let s = '';
    for (let i = Math.floor(next() * 24); i > 0; i--) s += alphabet[Math.floor(next() * alphabet.length)];
    return `${s}globalThis.pwned = 1;${s}`;
  });
}

const HOSTILE = [...new Set([...PAYLOADS, ...fuzz(300)])];

/** Transpiles a module; returns syntax diagnostics and the JS with comments removed. */
function transpile(source: string): { errors: string[]; js: string } {
  const out = ts.transpileModule(source, {
    reportDiagnostics: true,
    compilerOptions: { removeComments: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
  });
  return { errors: (out.diagnostics ?? []).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')), js: out.outputText };
}

describe('no input escapes its context', () => {
  // One module per helper holding every hostile string: a break-out anywhere changes the output
  // at that index, and the diff shows which.
  it('tsString round-trips through eval and compiles as one literal each', () => {
    for (const s of HOSTILE) expect((0, eval)(`(${tsString(s)})`)).toBe(s);
    const { errors, js } = transpile(HOSTILE.map((s) => `export const v = ${tsString(s)};\n`).join(''));
    expect(errors).toEqual([]);
    const values = js.trimEnd().split('\n').map((line) => (0, eval)(`(${line.slice('export const v = '.length, -1)})`));
    expect(values).toEqual(HOSTILE);
  });

  it('tsPropKey is one key in a type and in an object literal', () => {
    const keys = [...HOSTILE, '__proto__', 'constructor'];
    const { errors, js } = transpile(
      `export interface I {\n${keys.map((s) => `  ${tsPropKey(s)}: string;\n`).join('')}}\n` +
        `export const o = {\n${keys.map((s, i) => `  ${tsPropKey(s)}: ${i},\n`).join('')}};\n`,
    );
    expect(errors).toEqual([]);
    const o = (0, eval)(`(${js.slice(js.indexOf('{'), js.lastIndexOf('}') + 1)})`) as Record<string, number>;
    expect(Object.keys(o)).toEqual(keys);
    expect(Object.values(o)).toEqual(keys.map((_, i) => i));
    expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
  });

  it.each([
    ['jsDoc', (s: string) => `/** ${jsDoc(s)} */`],
    ['jsDoc, multi-line block', (s: string) => `/**\n * ${jsDoc(s)}\n */`],
    ['lineComment', (s: string) => `// ${lineComment(s)}`],
  ])('%s stays a comment: no syntax error and no code from it', (_name, comment) => {
    const { errors, js } = transpile(HOSTILE.map((s, i) => `${comment(s)}\nexport const ok${i} = ${i};\n`).join(''));
    expect(errors).toEqual([]);
    expect(js).toBe(HOSTILE.map((_, i) => `export const ok${i} = ${i};\n`).join(''));
  });

  it('protoComment and protoString stay inside a .proto file (checked by buf)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'streamspec-escape-'));
    try {
      const fields = HOSTILE.map((s, i) => `  // ${protoComment(s)}\n  string f${i} = ${i + 1} [json_name = ${protoString(s)}];`);
      writeFileSync(join(dir, 'buf.yaml'), 'version: v2\n');
      writeFileSync(join(dir, 'x.proto'), `syntax = "proto3";\npackage x.v1;\n\nmessage M {\n${fields.join('\n')}\n}\n`);
      const image = JSON.parse(
        execFileSync(join(process.cwd(), 'node_modules/.bin/buf'), ['build', '-o', '-#format=json'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
      ) as { file: { messageType: { name: string; field: { name: string; jsonName: string }[] }[] }[] };
      const [file] = image.file;
      expect(file!.messageType.map((m) => m.name)).toEqual(['M']);
      // Proto strings are UTF-8, so a lone surrogate arrives as U+FFFD, as it would from any encoder.
      const asUtf8 = HOSTILE.map((s) => Buffer.from(s, 'utf8').toString('utf8'));
      expect(file!.messageType[0]!.field.map((f) => f.jsonName)).toEqual(asUtf8);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('markdownText', () => {
  it.each([
    ['html', { given: '<script>alert(1)</script>', want: '&lt;script&gt;alert(1)&lt;/script&gt;' }],
    ['link', { given: '[x](http://evil)', want: '\\[x\\](http://evil)' }],
    ['code span and emphasis', { given: '`a` *b* _c_', want: '\\`a\\` \\*b\\* \\_c\\_' }],
    ['heading', { given: '# title', want: '\\# title' }],
    ['entity', { given: '&amp;', want: '&amp;amp;' }],
    ['line breaks join, paragraphs stay', { given: 'a\nb\u2028c\n\nd', want: 'a b c\n\nd' }],
    ['template text is inert', { given: '${x} {{y}}', want: '$\\{x\\} \\{\\{y\\}\\}' }],
  ])('%s', (_name, { given, want }) => {
    expect(markdownText(given)).toBe(want);
  });
});

describe('tsValue', () => {
  // Evaluated, not compared as text: the expression must give back exactly the value. Values come
  // from JSON.parse, as example data does, so `__proto__` is an own key.
  it.each([
    ['scalars', { given: '[null, true, 0, -1.5, "a"]' }],
    ['hostile strings', { given: '{"s": "*/ ${x} ` \\" \u0027 \\\\ \u2028 \u2029 \\n"}' }],
    ['hostile keys', { given: '{"a b": 1, "\u0027": 2, "__proto__": {"x": 1}, "constructor": 3, "": 4}' }],
    ['nesting', { given: '{"a": [{"b": [[]]}, {}], "c": {"d": null}}' }],
  ])('%s', (_name, { given }) => {
    const value: unknown = JSON.parse(given);
    const js = ts.transpileModule(`export default (${tsValue(value)});`, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;
    const mod: { exports: { default?: unknown } } = { exports: {} };
    new Function('exports', 'module', js)(mod.exports, mod);
    expect(mod.exports.default).toStrictEqual(value);
    expect(JSON.stringify(mod.exports.default)).toBe(JSON.stringify(value));
  });
});

describe('tsValue with Code', () => {
  it("places the generator's own code as written, and still escapes the data around it", () => {
    expect(tsValue({ validate: code('v.validateRoomParams'), name: 'a"b', 'x-y': [code('T.Z'), 1] })).toBe('{ validate: v.validateRoomParams, name: "a\\"b", "x-y": [T.Z, 1] }');
  });
});
