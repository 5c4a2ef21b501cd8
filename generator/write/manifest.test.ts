import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { badOutputPath, MANIFEST_FILE, ManifestError, readManifest, reusableChunks, serializeManifest, sha256, type Manifest } from './manifest.ts';

const root = fs.mkdtempSync(join(tmpdir(), 'streamspec-manifest-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
let dir = '';
beforeEach(() => {
  dir = fs.mkdtempSync(join(root, 'case-'));
});

const h = (c: string) => c.repeat(64);
const valid: Manifest = { version: 1, spec: 'spec/a.yaml', specHash: h('a'), files: { 'types.ts': { sha256: h('b') } } };

describe('serializeManifest', () => {
  it('orders the top level and sorts files by code unit, not locale', () => {
    const manifest = {
      files: { 'b.ts': { chunks: `${'d'.repeat(16)}:3`, sha256: h('c') }, 'B.ts': { sha256: h('e') }, 'a/z.ts': { sha256: h('f') } },
      specHash: h('a'),
      spec: 'spec/a.yaml',
      version: 1,
    } as Manifest;
    expect(serializeManifest(manifest)).toBe(
      `{\n  "version": 1,\n  "spec": "spec/a.yaml",\n  "specHash": "${h('a')}",\n  "files": {\n` +
        `    "B.ts": {\n      "sha256": "${h('e')}"\n    },\n` +
        `    "a/z.ts": {\n      "sha256": "${h('f')}"\n    },\n` +
        `    "b.ts": {\n      "sha256": "${h('c')}",\n      "chunks": "${'d'.repeat(16)}:3"\n    }\n  }\n}\n`,
    );
  });

  it('keeps a file named __proto__ as a file', () => {
    const files = JSON.parse(`{"__proto__": {"sha256": "${h('b')}"}}`) as Manifest['files'];
    expect(JSON.parse(serializeManifest({ ...valid, files })).files).toEqual(files);
    expect(serializeManifest({ ...valid, files })).toContain('"__proto__"');
  });
});

describe('readManifest', () => {
  it('is undefined without a manifest or without the folder', () => {
    expect(readManifest(dir)).toBeUndefined();
    expect(readManifest(join(dir, 'nope'))).toBeUndefined();
  });

  it('reads what serializeManifest wrote', () => {
    fs.writeFileSync(join(dir, MANIFEST_FILE), serializeManifest(valid));
    expect(readManifest(dir)).toEqual(valid);
  });

  const fix = 'It records which files streamspec owns; restore it from version control, or remove the folder and regenerate.';
  it.each([
    ['empty file', { given: '', want: 'is not valid JSON (Unexpected end of JSON input).' }],
    ['an array', { given: '[]', want: 'is not a streamspec manifest: expected an object.' }],
    ['version 2', { given: { ...valid, version: 2 }, want: 'is not a streamspec manifest: unsupported version 2, expected 1.' }],
    ['no spec', { given: { ...valid, spec: undefined }, want: 'is not a streamspec manifest: `spec` is not a string.' }],
    ['bad spec hash', { given: { ...valid, specHash: 'x' }, want: 'is not a streamspec manifest: `specHash` is not a sha256 hex digest.' }],
    ['files an array', { given: { ...valid, files: [] }, want: 'is not a streamspec manifest: `files` is not an object.' }],
    ['absolute path', { given: { ...valid, files: { '/etc/passwd': { sha256: h('b') } } }, want: 'is not a streamspec manifest: file "/etc/passwd": the path is absolute.' }],
    ['parent path', { given: { ...valid, files: { 'a/../../x': { sha256: h('b') } } }, want: 'is not a streamspec manifest: file "a/../../x": the path has an empty, `.` or `..` segment.' }],
    ['Windows drive', { given: { ...valid, files: { 'C:x': { sha256: h('b') } } }, want: 'is not a streamspec manifest: file "C:x": the path is absolute.' }],
    ['bad file hash', { given: { ...valid, files: { 'a.ts': { sha256: 'B'.repeat(64) } } }, want: 'is not a streamspec manifest: file "a.ts": `sha256` is not a sha256 hex digest.' }],
    ['bad chunks', { given: { ...valid, files: { 'a.ts': { sha256: h('b'), chunks: 'x:1' } } }, want: 'is not a streamspec manifest: file "a.ts": `chunks` is not a list of hash:length pairs.' }],
  ] as const)('throws a ManifestError naming the file: %s', (_name, { given, want }) => {
    const file = join(dir, MANIFEST_FILE);
    fs.writeFileSync(file, typeof given === 'string' ? given : JSON.stringify(given));
    let caught: unknown;
    try {
      readManifest(dir);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ManifestError);
    const { message, file: named } = caught as ManifestError;
    expect(named).toBe(file);
    expect(message.startsWith(`${file} `)).toBe(true);
    expect(message.endsWith(` ${fix}`)).toBe(true);
    const middle = message.slice(file.length + 1, -fix.length - 1);
    if (typeof want === 'string') expect(middle).toBe(want);
    else expect(middle).toMatch(want);
  });

  it('throws, not ignores, a manifest that is a folder', () => {
    fs.mkdirSync(join(dir, MANIFEST_FILE));
    expect(() => readManifest(dir)).toThrowError(/\.streamspec-manifest\.json cannot be read: EISDIR/);
  });
});

describe('badOutputPath', () => {
  it.each([
    ['types.ts', undefined],
    ['proto/assistant/v1/assistant.proto', undefined],
    ['.hidden/x', undefined],
    ['', 'the path is empty'],
    ['/abs', 'the path is absolute'],
    ['C:/x', 'the path is absolute'],
    ['a\\b', 'the path holds a backslash or NUL'],
    ['a\0b', 'the path holds a backslash or NUL'],
    ['a//b', 'the path has an empty, `.` or `..` segment'],
    ['a/', 'the path has an empty, `.` or `..` segment'],
    ['./a', 'the path has an empty, `.` or `..` segment'],
    ['..', 'the path has an empty, `.` or `..` segment'],
    [MANIFEST_FILE, 'the path is the manifest itself'],
  ])('%j', (given, want) => {
    expect(badOutputPath(given)).toBe(want);
  });
});

describe('reusableChunks', () => {
  const pieces = ['// head\n', 'export const a = 1;\n', 'export const b = [\n  1,\n];\n'];
  const formatted = pieces.join('\n');
  const chunks = `${'1'.repeat(16)}:${pieces[0]!.length},${'2'.repeat(16)}:${pieces[1]!.length},${'3'.repeat(16)}:${pieces[2]!.length}`;
  const manifest: Manifest = { ...valid, files: { 'a.ts': { sha256: sha256(formatted), chunks }, constructor: { sha256: h('b') } } };
  const all = new Map([
    ['1'.repeat(16), pieces[0]],
    ['2'.repeat(16), pieces[1]],
    ['3'.repeat(16), pieces[2]],
  ]);

  it.each([
    ['untouched file: every piece, by hash', { given: { path: 'a.ts', disk: formatted }, want: all }],
    ['file edited since', { given: { path: 'a.ts', disk: formatted.replace('1', '2') }, want: new Map() }],
    ['file gone', { given: { path: 'a.ts', disk: undefined }, want: new Map() }],
    ['not in the manifest', { given: { path: 'b.ts', disk: formatted }, want: new Map() }],
    ['an Object.prototype name', { given: { path: 'toString', disk: formatted }, want: new Map() }],
  ])('%s', (_name, { given, want }) => {
    fs.rmSync(join(dir, given.path), { force: true });
    if (given.disk !== undefined) fs.writeFileSync(join(dir, given.path), given.disk);
    expect(reusableChunks(dir, manifest, given.path)).toEqual(want);
  });

  it('is empty without a manifest', () => {
    fs.writeFileSync(join(dir, 'a.ts'), formatted);
    expect(reusableChunks(dir, undefined, 'a.ts')).toEqual(new Map());
  });
});
