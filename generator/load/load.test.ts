import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatText, type Diagnostic } from '../diagnostics.ts';
import { dottedPath, loadContract, loadYamlText, resolveRef } from './load.ts';
import type { Pointer } from './types.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** `file:line:col CODE message`, one line per diagnostic, for exact comparison. */
const lines = (ds: readonly Diagnostic[]) => ds.map((d) => `${d.file}:${d.line}:${d.col} ${d.code} ${d.message}`);

/** A loader over in-memory files, keyed by absolute path under /w. */
function memory(files: Record<string, string>) {
  return (abs: string) => {
    const text = files[abs.replace(/\\/g, '/')];
    if (text === undefined) throw Object.assign(new Error(`ENOENT: ${abs}`), { code: 'ENOENT' });
    return text;
  };
}

describe('loadYamlText positions', () => {
  const text = ['a:', '  b: 1', '  c:', '  d: [x, { e: 2 }]', 'f: &k { g: 1 }', 'h: *k', ''].join('\n');
  const { file, diagnostics } = loadYamlText('t.yaml', text);
  const cases: [string, { given: { pointer: Pointer; at?: 'key' | 'value' }; want: [number, number] }][] = [
    ['root', { given: { pointer: [] }, want: [1, 1] }],
    ['member key by default', { given: { pointer: ['a', 'b'] }, want: [2, 3] }],
    ['member value', { given: { pointer: ['a', 'b'], at: 'value' }, want: [2, 6] }],
    ['block mapping value starts on the next line', { given: { pointer: ['a'], at: 'value' }, want: [2, 3] }],
    ['an empty value falls back to its key', { given: { pointer: ['a', 'c'], at: 'value' }, want: [3, 3] }],
    ['sequence item', { given: { pointer: ['a', 'd', 0] }, want: [4, 7] }],
    ['key inside a flow mapping inside a sequence', { given: { pointer: ['a', 'd', 1, 'e'] }, want: [4, 12] }],
    ['value inside a flow mapping', { given: { pointer: ['a', 'd', 1, 'e'], at: 'value' }, want: [4, 15] }],
    ['a missing node falls back to its nearest ancestor', { given: { pointer: ['a', 'b', 'zz', 'q'] }, want: [2, 3] }],
    ['through an alias: the anchored text', { given: { pointer: ['h', 'g'], at: 'value' }, want: [5, 12] }],
  ];
  it('parses without diagnostics', () => {
    expect(diagnostics).toEqual([]);
    expect(file?.value).toEqual({ a: { b: 1, c: null, d: ['x', { e: 2 }] }, f: { g: 1 }, h: { g: 1 } });
  });
  it.each(cases)('%s', (_, { given, want }) => {
    const pos = file!.pos(given.pointer, given.at);
    expect([pos.line, pos.col]).toEqual(want);
    expect(pos.file).toBe('t.yaml');
  });
  it('places an empty document at 1:1', () => {
    const empty = loadYamlText('e.yaml', '# nothing yet\n');
    expect(empty.file?.value).toBeNull();
    expect(empty.file?.pos(['streams'])).toEqual({ file: 'e.yaml', line: 1, col: 1 });
  });
});

describe('loadYamlText syntax errors (SS101)', () => {
  const cases: [string, { given: string; want: string[] }][] = [
    [
      'duplicate key',
      {
        given: 'streams:\n  a: {}\n  a: {}\n',
        want: ['x.yaml:3:3 SS101 Map keys must be unique. Remove or rename one of the two keys; YAML keeps only one.'],
      },
    ],
    [
      'tab indentation',
      {
        given: 'info:\n\ttitle: A\n',
        want: ['x.yaml:2:1 SS101 Tabs are not allowed as indentation. Indent with spaces; YAML does not allow tabs for indentation.'],
      },
    ],
    [
      'two documents in one file',
      {
        given: 'a: 1\n---\nb: 2\n',
        want: [
          'x.yaml:2:1 SS101 Source contains multiple documents. Keep one document per contract file: remove the second "---" and what follows, or move it to its own file.',
        ],
      },
    ],
    [
      'an alias without its anchor',
      {
        given: 'a: 1\nb: *missing\n',
        want: ['x.yaml:2:4 SS101 The alias *missing names no anchor. Define &missing before this point, or remove the alias.'],
      },
    ],
    [
      'several errors on one line are reported once',
      {
        given: 'a: b: c: d\n',
        want: [
          'x.yaml:1:4 SS101 Nested mappings are not allowed in compact mappings. Put the nested mapping on its own lines, indented under its key, or quote a value that contains ": ".',
        ],
      },
    ],
  ];
  it.each(cases)('%s', (_, { given, want }) => {
    const { file, diagnostics } = loadYamlText('x.yaml', given);
    expect(file).toBeUndefined();
    expect(lines(diagnostics)).toEqual(want);
  });
});

describe('loadContract', () => {
  it('loads every referenced file once, names them relative to the cwd, and resolves recursive and cyclic $refs', () => {
    const result = loadContract('./test/fixtures/load/main.yaml', { cwd: REPO });
    expect(result.diagnostics).toEqual([]);
    expect(result.root?.file).toBe('test/fixtures/load/main.yaml');
    expect([...result.files.keys()].sort()).toEqual([
      'test/fixtures/load/common.yaml',
      'test/fixtures/load/main.yaml',
      'test/fixtures/load/sub/shared.yaml',
    ]);
    const shared = result.files.get('test/fixtures/load/sub/shared.yaml')!;
    expect(shared.pos(['components', 'schemas', 'Shared', 'properties', 'back'])).toEqual({
      file: 'test/fixtures/load/sub/shared.yaml',
      line: 6,
      col: 9,
    });
  });

  it('reads through the readFile option, relative to cwd, with / separators', () => {
    const seen: string[] = [];
    const read = memory({ '/w/spec/a.yaml': "x: { $ref: 'lib/b.yaml#/y' }\n", '/w/spec/lib/b.yaml': 'y: 1\n' });
    const result = loadContract('spec\\a.yaml', { cwd: '/w', readFile: (abs) => (seen.push(abs), read(abs)) });
    expect(result.diagnostics).toEqual([]);
    expect([...result.files.keys()]).toEqual(['spec/a.yaml', 'spec/lib/b.yaml']);
    expect(seen).toEqual(['/w/spec/a.yaml', '/w/spec/lib/b.yaml']);
  });

  it('reports an unreadable root file as SS100 at 1:1', () => {
    const result = loadContract('spec/nope.yaml', { cwd: '/w', readFile: memory({}) });
    expect(result.root).toBeUndefined();
    expect(lines(result.diagnostics)).toEqual([
      'spec/nope.yaml:1:1 SS100 Cannot read spec/nope.yaml: there is no such file. Check the path; it is relative to the current directory.',
    ]);
  });

  it('reports a YAML error in a referenced file at its own position', () => {
    const read = memory({ '/w/a.yaml': "s: { $ref: 'b.yaml#/x' }\nt: { $ref: 'b.yaml#/y' }\n", '/w/b.yaml': 'x: 1\nx: 2\n' });
    const result = loadContract('a.yaml', { cwd: '/w', readFile: read });
    expect(lines(result.diagnostics)).toEqual([
      'b.yaml:2:1 SS101 Map keys must be unique. Remove or rename one of the two keys; YAML keeps only one.',
    ]);
  });

  const refCases: [string, { given: string; want: string[] }][] = [
    [
      'a misspelt local schema',
      {
        given: "components:\n  schemas:\n    Token: {}\n    Usage: { $ref: '#/components/schemas/Tokn' }\n",
        want: [
          'a.yaml:4:20 SS209 $ref "#/components/schemas/Tokn" does not resolve: there is no schema "Tokn" in components.schemas. Did you mean "Token"?',
        ],
      },
    ],
    [
      'a local schema with no near name',
      {
        given: "components:\n  schemas:\n    Token: {}\n    Usage: { $ref: '#/components/schemas/Nothing' }\n",
        want: [
          'a.yaml:4:20 SS209 $ref "#/components/schemas/Nothing" does not resolve: there is no schema "Nothing" in components.schemas. Fix the name in the $ref, or add "Nothing" to components.schemas.',
        ],
      },
    ],
    [
      'a missing intermediate key',
      {
        given: "x: { $ref: '#/components/schemas/Token' }\n",
        want: [
          'a.yaml:1:12 SS209 $ref "#/components/schemas/Token" does not resolve: there is no key "components" in the document. Fix the name in the $ref, or add "components" at the top level.',
        ],
      },
    ],
    [
      'a schema in another file',
      {
        given: "x: { $ref: './lib.yaml#/components/schemas/Idd' }\n",
        want: [
          'a.yaml:1:12 SS209 $ref "./lib.yaml#/components/schemas/Idd" does not resolve: there is no schema "Idd" in components.schemas of lib.yaml. Did you mean "Id"?',
        ],
      },
    ],
    [
      'a file that does not exist, reported once at the first $ref naming it',
      {
        given: "x: { $ref: 'gone.yaml#/a' }\ny: { $ref: 'gone.yaml#/b' }\n",
        want: [
          'a.yaml:1:12 SS100 $ref "gone.yaml#/a" names gone.yaml, which cannot be read: there is no such file. Check the path; it is relative to the file that holds the $ref.',
        ],
      },
    ],
    [
      'an index past the end of a list',
      {
        given: "list: [a, b]\nx: { $ref: '#/list/2' }\n",
        want: [
          'a.yaml:2:12 SS209 $ref "#/list/2" does not resolve: list has 2 items, so there is no item "2". Point at an existing item, counting from 0.',
        ],
      },
    ],
    [
      'a fragment that is not a JSON Pointer',
      {
        given: "x: { $ref: '#Token' }\n",
        want: [
          'a.yaml:1:12 SS209 $ref "#Token" has "#Token" after the "#", which is not a JSON Pointer. Write a path from the document root, such as "#/components/schemas/Token".',
        ],
      },
    ],
    [
      'a URL',
      {
        given: "x: { $ref: 'https://example.com/s.yaml#/a' }\n",
        want: [
          'a.yaml:1:12 SS209 $ref "https://example.com/s.yaml#/a" is a URL, and streamspec reads only local files. Copy the schema into a file next to the contract and $ref it by relative path.',
        ],
      },
    ],
    [
      'escaped pointer segments resolve (~1, ~0, %20)',
      { given: "'a/b': { 'c~d': { 'e f': 1 } }\nx: { $ref: '#/a~1b/c~0d/e%20f' }\n", want: [] },
    ],
    ['a whole file', { given: 'x: { $ref: lib.yaml }\n', want: [] }],
    [
      '$ref inside examples is data, not a reference',
      { given: "x: { type: object, examples: [{ $ref: '#/nowhere' }], default: { $ref: '#/nowhere' } }\n", want: [] },
    ],
  ];
  it.each(refCases)('$ref: %s', (_, { given, want }) => {
    const read = memory({ '/w/a.yaml': given, '/w/lib.yaml': 'components:\n  schemas:\n    Id: { type: string }\n' });
    const result = loadContract('a.yaml', { cwd: '/w', readFile: read });
    expect(lines(result.diagnostics)).toEqual(want);
  });

  it('prints a diagnostic with a caret under the $ref value', () => {
    const text = "x: { $ref: '#/nope' }\n";
    const result = loadContract('a.yaml', { cwd: '/w', readFile: memory({ '/w/a.yaml': text }) });
    expect(formatText(result.diagnostics, new Map([['a.yaml', text]]))).toBe(
      [
        'a.yaml:1:12 error SS209 $ref "#/nope" does not resolve: there is no key "nope" in the document. Fix the name in the $ref, or add "nope" at the top level.',
        "  1 | x: { $ref: '#/nope' }",
        '                 ^',
        '',
      ].join('\n'),
    );
  });
});

describe('resolveRef', () => {
  const read = memory({
    '/w/spec/a.yaml': "components:\n  schemas:\n    T: { type: string }\n    L: { $ref: '../lib/b.yaml#/items/1' }\n",
    '/w/lib/b.yaml': 'items: [zero, { one: 1 }]\n',
  });
  const { root, files } = loadContract('spec/a.yaml', { cwd: '/w', readFile: read });
  it('resolves a local pointer to the same file', () => {
    const target = resolveRef(root!, '#/components/schemas/T', files);
    expect(target?.file).toBe(root);
    expect(target?.pointer).toEqual(['components', 'schemas', 'T']);
    expect(target?.value).toEqual({ type: 'string' });
  });
  it('resolves a relative file and turns array indexes into numbers', () => {
    const target = resolveRef(root!, '../lib/b.yaml#/items/1', files);
    expect(target?.file.file).toBe('lib/b.yaml');
    expect(target?.pointer).toEqual(['items', 1]);
    expect(target?.value).toEqual({ one: 1 });
  });
  it('returns undefined for a miss or an unloaded file', () => {
    expect(resolveRef(root!, '#/components/schemas/X', files)).toBeUndefined();
    expect(resolveRef(root!, 'other.yaml#/a', files)).toBeUndefined();
  });
});

describe('dottedPath', () => {
  it.each([
    [[], ''],
    [['streams', 'completion', 'backpressure'], 'streams.completion.backpressure'],
    [['errors', 'codes', 1], 'errors.codes[1]'],
    [['properties', 'a.b'], 'properties["a.b"]'],
    [['$ref'], '$ref'],
  ] as [Pointer, string][])('%j -> %s', (given, want) => {
    expect(dottedPath(given)).toBe(want);
  });
});
