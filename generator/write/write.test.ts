import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { MANIFEST_FILE, readManifest, sha256 } from './manifest.ts';
import { diffOutput, writeOutput, type OutputFile, type WriteFs } from './write.ts';

const root = fs.mkdtempSync(join(tmpdir(), 'streamspec-write-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const meta = { spec: 'spec/assistant.yaml', specHash: 'b'.repeat(64) };
const past = new Date('2020-01-01T00:00:00Z');

let base = '';
let out = '';
beforeEach(() => {
  base = fs.mkdtempSync(join(root, 'case-'));
  out = join(base, 'generated', 'assistant');
});

const files = (record: Record<string, string>): OutputFile[] => Object.entries(record).map(([path, content]) => ({ path, content }));

/** Every file and folder under `dir` with bytes and mtime: equal snapshots mean nothing was touched. */
function snapshot(dir: string): Record<string, string> {
  const snap: Record<string, string> = {};
  if (!fs.existsSync(dir)) return snap;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      snap[`${path}/`] = 'dir';
      Object.assign(snap, snapshot(path));
    } else snap[path] = `${fs.statSync(path).mtimeMs} ${fs.readFileSync(path, 'base64')}`;
  }
  return snap;
}

/** Sets every file's mtime in the past, so a rewrite would show. */
function age(dir: string): void {
  for (const path of Object.keys(snapshot(dir))) if (!path.endsWith('/')) fs.utimesSync(path, past, past);
}

const read = (path: string) => fs.readFileSync(join(out, path), 'utf8');

const v1 = { 'types.ts': 'export type A = 1;\n', 'client.ts': 'client v1\n', 'proto/assistant/v1/assistant.proto': 'syntax = "proto3";\n', 'old/gone.ts': 'gone\n' };
const v2 = { 'types.ts': 'export type A = 2;\n', 'client.ts': 'client v1\n', 'proto/assistant/v1/assistant.proto': 'syntax = "proto3";\n', 'server.ts': 'server\n' };

describe('writeOutput', () => {
  it('writes every file and a sorted manifest into a folder that does not exist yet', () => {
    const given = [...files(v1), { path: 'validate.ts', content: 'v\n', chunks: `${'c'.repeat(16)}:2` }];
    expect(writeOutput(out, given, meta)).toEqual({
      ok: true,
      written: ['client.ts', 'old/gone.ts', 'proto/assistant/v1/assistant.proto', 'types.ts', 'validate.ts'],
      unchanged: [],
      removed: [],
    });
    for (const [path, content] of Object.entries(v1)) expect(read(path)).toBe(content);
    expect(read(MANIFEST_FILE)).toBe(
      JSON.stringify(
        {
          version: 1,
          spec: 'spec/assistant.yaml',
          specHash: meta.specHash,
          files: {
            'client.ts': { sha256: sha256('client v1\n') },
            'old/gone.ts': { sha256: sha256('gone\n') },
            'proto/assistant/v1/assistant.proto': { sha256: sha256('syntax = "proto3";\n') },
            'types.ts': { sha256: sha256('export type A = 1;\n') },
            'validate.ts': { sha256: sha256('v\n'), chunks: `${'c'.repeat(16)}:2` },
          },
        },
        null,
        2,
      ) + '\n',
    );
    // The temp folder beside outDir is gone.
    expect(fs.readdirSync(join(base, 'generated'))).toEqual(['assistant']);
  });

  it('rewrites changed files, keeps unchanged ones untouched, deletes what is no longer generated', () => {
    writeOutput(out, files(v1), meta);
    fs.writeFileSync(join(out, 'old', 'notes.md'), 'mine');
    fs.mkdirSync(join(out, 'gone-dir'));
    age(out);
    const before = snapshot(out);

    expect(writeOutput(out, files(v2), meta)).toEqual({
      ok: true,
      written: ['server.ts', 'types.ts'],
      unchanged: ['client.ts', 'proto/assistant/v1/assistant.proto'],
      removed: ['old/gone.ts'],
    });
    const after = snapshot(out);
    expect(read('types.ts')).toBe(v2['types.ts']);
    expect(read('server.ts')).toBe('server\n');
    expect(after[join(out, 'client.ts')]).toBe(before[join(out, 'client.ts')]);
    expect(after[join(out, 'proto/assistant/v1/assistant.proto')]).toBe(before[join(out, 'proto/assistant/v1/assistant.proto')]);
    expect(fs.existsSync(join(out, 'old/gone.ts'))).toBe(false);
    // A folder still holding someone's file stays, and so does an empty folder we never wrote into.
    expect(read('old/notes.md')).toBe('mine');
    expect(fs.existsSync(join(out, 'gone-dir'))).toBe(true);
    expect(Object.keys(readManifest(out)!.files)).toEqual(['client.ts', 'proto/assistant/v1/assistant.proto', 'server.ts', 'types.ts']);
  });

  it('removes the folders its removals emptied', () => {
    writeOutput(out, files({ 'a.ts': 'a', 'deep/er/x.ts': 'x', 'deep/y.ts': 'y' }), meta);
    expect(writeOutput(out, files({ 'a.ts': 'a' }), meta)).toMatchObject({ ok: true, removed: ['deep/er/x.ts', 'deep/y.ts'] });
    expect(fs.readdirSync(out).sort()).toEqual([MANIFEST_FILE, 'a.ts']);
  });

  it('touches nothing, manifest included, when nothing changed', () => {
    writeOutput(out, files(v1), meta);
    age(out);
    const before = snapshot(out);
    expect(writeOutput(out, files(v1), meta)).toEqual({ ok: true, written: [], unchanged: Object.keys(v1).sort(), removed: [] });
    expect(snapshot(out)).toEqual(before);
  });

  it('rewrites only the manifest when only the spec hash changed', () => {
    writeOutput(out, files(v1), meta);
    age(out);
    expect(writeOutput(out, files(v1), { ...meta, specHash: 'd'.repeat(64) })).toMatchObject({ ok: true, written: [] });
    expect(readManifest(out)!.specHash).toBe('d'.repeat(64));
  });

  it('does not delete a removed file that someone replaced with a folder', () => {
    writeOutput(out, files({ 'a.ts': 'a', 'b.ts': 'b' }), meta);
    fs.rmSync(join(out, 'b.ts'));
    fs.mkdirSync(join(out, 'b.ts'));
    fs.writeFileSync(join(out, 'b.ts', 'keep'), 'k');
    expect(writeOutput(out, files({ 'a.ts': 'a' }), meta)).toMatchObject({ ok: true, removed: [] });
    expect(fs.readFileSync(join(out, 'b.ts', 'keep'), 'utf8')).toBe('k');
  });

  it.each([
    [
      'a file not in the manifest',
      {
        given: (dir: string) => fs.writeFileSync(join(dir, 'server.ts'), 'hand-written'),
        want: { file: 'server.ts', message: 'OUT/server.ts exists and was not written by streamspec; move it away or choose another --out.' },
      },
    ],
    [
      'a folder where a file goes',
      {
        given: (dir: string) => fs.mkdirSync(join(dir, 'server.ts')),
        want: { file: 'server.ts', message: 'OUT/server.ts exists, is not a regular file and was not written by streamspec; move it away or choose another --out.' },
      },
    ],
    [
      'a file where a folder goes',
      {
        given: (dir: string) => fs.writeFileSync(join(dir, 'runtime'), 'x'),
        want: { file: 'runtime', message: 'OUT/runtime exists where streamspec needs a folder for runtime/sse.ts and was not written by streamspec; move it away or choose another --out.' },
      },
    ],
    [
      'a symlink where a file goes',
      {
        given: (dir: string) => fs.symlinkSync(join(dir, 'types.ts'), join(dir, 'server.ts')),
        want: { file: 'server.ts', message: 'OUT/server.ts exists, is not a regular file and was not written by streamspec; move it away or choose another --out.' },
      },
    ],
  ])('refuses, writing nothing, over %s', (_name, { given, want }) => {
    writeOutput(out, files(v1), meta);
    given(out);
    age(out);
    const before = snapshot(out);
    expect(writeOutput(out, files({ ...v2, 'runtime/sse.ts': 'r' }), meta)).toEqual({
      ok: false,
      error: { code: 'NOT_OWNED', file: want.file, message: want.message.replace('OUT', out) },
    });
    expect(snapshot(out)).toEqual(before);
    expect(fs.readdirSync(join(base, 'generated'))).toEqual(['assistant']);
  });

  it('refuses a folder without a manifest that holds a path it would write, and counts the others', () => {
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(join(out, 'types.ts'), 'mine');
    fs.writeFileSync(join(out, 'client.ts'), 'mine too');
    age(out);
    const before = snapshot(out);
    expect(writeOutput(out, files(v1), meta)).toEqual({
      ok: false,
      error: {
        code: 'NOT_OWNED',
        file: 'client.ts',
        message: `${out}/client.ts exists and was not written by streamspec; move it away or choose another --out. (1 more file(s) are in the same state.)`,
      },
    });
    expect(snapshot(out)).toEqual(before);
  });

  it('adopts a file that already holds exactly what it would write, as an interrupted run leaves it', () => {
    const given = files(v1);
    fs.mkdirSync(out, { recursive: true });
    // A run killed after renaming types.ts into place but before writing its manifest.
    const first = given[0]!;
    fs.mkdirSync(join(out, first.path, '..'), { recursive: true });
    fs.writeFileSync(join(out, first.path), first.content);
    const r = writeOutput(out, given, meta);
    expect(r).toMatchObject({ ok: true, unchanged: [first.path] });
    expect(readManifest(out)!.files[first.path]).toEqual({ sha256: sha256(first.content) });
    // One byte different is someone else's file again.
    fs.rmSync(out, { recursive: true });
    fs.mkdirSync(join(out, first.path, '..'), { recursive: true });
    fs.writeFileSync(join(out, first.path), `${first.content} `);
    expect(writeOutput(out, given, meta)).toMatchObject({ ok: false, error: { code: 'NOT_OWNED', file: first.path } });
  });

  it('writes into a folder without a manifest when no path overlaps, leaving other files alone', () => {
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(join(out, 'README.md'), 'mine');
    expect(writeOutput(out, files(v1), meta)).toMatchObject({ ok: true });
    expect(writeOutput(out, files({ 'types.ts': 'x' }), meta)).toMatchObject({ ok: true, removed: ['client.ts', 'old/gone.ts', 'proto/assistant/v1/assistant.proto'] });
    expect(read('README.md')).toBe('mine');
  });

  it.each([
    ['not JSON', { given: '{', want: /assistant\/\.streamspec-manifest\.json is not valid JSON/ }],
    ['a path escaping the folder', { given: JSON.stringify({ version: 1, spec: 's', specHash: 'b'.repeat(64), files: { '../victim.txt': { sha256: 'a'.repeat(64) } } }), want: /file "\.\.\/victim\.txt": the path has an empty, `\.` or `\.\.` segment/ }],
  ])('refuses a corrupt manifest (%s) and deletes nothing', (_name, { given, want }) => {
    writeOutput(out, files(v1), meta);
    fs.writeFileSync(join(base, 'generated', 'victim.txt'), 'precious');
    fs.writeFileSync(join(out, MANIFEST_FILE), given);
    age(join(base, 'generated'));
    const before = snapshot(join(base, 'generated'));
    const result = writeOutput(out, files({ 'types.ts': 'x' }), meta);
    expect(result).toMatchObject({ ok: false, error: { code: 'BAD_MANIFEST', file: MANIFEST_FILE } });
    expect(!result.ok && result.error.message).toMatch(want);
    expect(snapshot(join(base, 'generated'))).toEqual(before);
  });

  it('leaves the previous output byte-identical when a rename fails at any point', () => {
    writeOutput(out, files(v1), meta);
    age(out);
    const before = snapshot(out);
    let failures = 0;
    for (let failAt = 1; ; failAt++) {
      let calls = 0;
      const failing: WriteFs = {
        ...fs,
        renameSync: (from, to) => {
          if (++calls === failAt) throw new Error(`EIO: simulated failure, rename '${String(from)}'`);
          fs.renameSync(from, to);
        },
      };
      const result = writeOutput(out, files(v2), meta, failing);
      if (result.ok) break;
      failures++;
      expect(result.error.code).toBe('IO');
      expect(result.error.message).toMatch(/^could not write .*: EIO: simulated failure, .*\. The previous output is unchanged; fix the cause and run again\.$/);
      expect(snapshot(out)).toEqual(before);
      expect(fs.readdirSync(join(base, 'generated'))).toEqual(['assistant']);
    }
    // Renames: 1 removal + 2 to replace types.ts + 1 new server.ts + 2 for the manifest; each failed once.
    expect(failures).toBe(6);
    expect(read('types.ts')).toBe(v2['types.ts']);
  });

  it('removes the folders it created when the first write into a new folder fails', () => {
    const failing: WriteFs = { ...fs, renameSync: () => { throw new Error('EIO: simulated'); } };
    expect(writeOutput(out, files(v1), meta, failing)).toMatchObject({ ok: false, error: { code: 'IO', file: 'client.ts' } });
    expect(fs.readdirSync(base)).toEqual([]);
  });

  it('keeps the backups and says where they are when restoring fails too', () => {
    writeOutput(out, files(v1), meta);
    let calls = 0;
    const failing: WriteFs = {
      ...fs,
      // The third rename (first placement of a new file) fails, and so does every undo after it.
      renameSync: (from, to) => {
        if (++calls >= 3) throw new Error('EIO: simulated');
        fs.renameSync(from, to);
      },
    };
    const result = writeOutput(out, files(v2), meta, failing);
    expect(result.ok).toBe(false);
    const tmpName = fs.readdirSync(join(base, 'generated')).find((n) => n.startsWith('.assistant.streamspec-'));
    expect(tmpName).toBeDefined();
    expect(!result.ok && result.error.message).toContain(`its files are backed up in ${join(fs.realpathSync(join(base, 'generated')), tmpName!)}.`);
  });

  it.each([
    ['an absolute path', { given: ['/etc/passwd'], want: 'internal: bad output path "/etc/passwd": the path is absolute' }],
    ['a parent segment', { given: ['a/../b.ts'], want: 'internal: bad output path "a/../b.ts": the path has an empty, `.` or `..` segment' }],
    ['a backslash', { given: ['a\\b.ts'], want: 'internal: bad output path "a\\\\b.ts": the path holds a backslash or NUL' }],
    ['the manifest', { given: [MANIFEST_FILE], want: `internal: bad output path "${MANIFEST_FILE}": the path is the manifest itself` }],
    ['paths differing in case', { given: ['A.ts', 'a.ts'], want: 'internal: output paths "A.ts" and "a.ts" collide' }],
    ['a file that is another file\'s folder', { given: ['a', 'a/b.ts'], want: 'internal: output path "a" is also a folder of "a/b.ts"' }],
  ] as const)('throws on a generator bug: %s', (_name, { given, want }) => {
    expect(() => writeOutput(out, given.map((path) => ({ path, content: '' })), meta)).toThrowError(want);
    expect(fs.existsSync(out)).toBe(false);
  });
});

describe('diffOutput', () => {
  it('reports stale, missing and extra files, and writes nothing', () => {
    writeOutput(out, files(v1), meta);
    fs.writeFileSync(join(out, 'mine.ts'), 'not ours, not extra');
    age(out);
    const before = snapshot(out);
    expect(diffOutput(out, files(v2))).toEqual({ stale: ['types.ts'], missing: ['server.ts'], extra: ['old/gone.ts'] });
    expect(snapshot(out)).toEqual(before);
  });

  it('reports nothing for fresh output, and everything missing without output', () => {
    writeOutput(out, files(v1), meta);
    expect(diffOutput(out, files(v1))).toEqual({ stale: [], missing: [], extra: [] });
    expect(diffOutput(join(base, 'nope'), files(v1))).toEqual({ stale: [], missing: Object.keys(v1).sort(), extra: [] });
  });

  it('throws on a corrupt manifest', () => {
    writeOutput(out, files(v1), meta);
    fs.writeFileSync(join(out, MANIFEST_FILE), '[]');
    expect(() => diffOutput(out, files(v1))).toThrowError(/\.streamspec-manifest\.json is not a streamspec manifest: expected an object\./);
  });
});
