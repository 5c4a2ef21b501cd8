// The example contracts end to end: the committed generated/ is exactly what generate writes
// (golden files), compiles under tsc --strict, passes buf lint/format/build, is deterministic,
// and its validators run and tell good messages from bad ones.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../generator/generate.ts';
import { formatTs } from '../generator/render/format.ts';
import { buf, readTree, ROOT, typecheck, workDir } from './support/tools.ts';

const SPECS = readdirSync(join(ROOT, 'spec'))
  .filter((f) => f.endsWith('.yaml'))
  .sort();

describe.each(SPECS)('spec/%s', (file) => {
  const id = file.replace(/\.yaml$/, '');
  const golden = join(ROOT, 'generated', id);
  let fresh: string;

  beforeAll(async () => {
    fresh = join(workDir(`example-${id}`), 'out');
    const r = await generate({ spec: `spec/${file}`, out: fresh, cwd: ROOT });
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(r.ok).toBe(true);
  });

  it('generates exactly the committed golden files', () => {
    const want = readTree(golden);
    const got = readTree(fresh);
    // The manifest names the output folder's spec and hashes, so it is compared too.
    expect([...got.keys()]).toEqual([...want.keys()]);
    for (const [path, text] of want) expect(got.get(path), path).toBe(text);
  });

  it('is deterministic: a second run writes the same bytes', async () => {
    const again = join(workDir(`example-${id}-again`), 'out');
    await generate({ spec: `spec/${file}`, out: again, cwd: ROOT });
    expect(readTree(again)).toEqual(readTree(fresh));
  });

  it('piecewise formatting gives what prettier gives for the whole file', async () => {
    for (const [path, text] of readTree(fresh)) {
      if (path.endsWith('.ts') && !path.startsWith('runtime/')) expect(await formatTs(text, path), path).toBe(text);
    }
  });

  it('proto passes buf lint, buf format and buf build', () => {
    const dir = join(golden, 'proto');
    for (const args of [['lint'], ['format', '--diff', '--exit-code'], ['build']]) {
      const r = buf(args, dir);
      expect(`${r.stdout}${r.stderr}`, `buf ${args.join(' ')}`).toBe('');
      expect(r.status, `buf ${args.join(' ')}`).toBe(0);
    }
  });
});

describe('generated TypeScript', () => {
  it('compiles under tsc --strict', () => {
    const files = SPECS.flatMap((f) => {
      const tree = readTree(join(ROOT, 'generated', f.replace(/\.yaml$/, '')));
      return [...tree.keys()].filter((p) => p.endsWith('.ts')).map((p) => join(ROOT, 'generated', f.replace(/\.yaml$/, ''), p));
    });
    expect(files.length).toBeGreaterThan(SPECS.length);
    expect(typecheck('examples', files)).toEqual([]);
  });
});

describe('generated validators', () => {
  it('accept contract-valid data and name the field of invalid data', async () => {
    const v = await import('../generated/assistant/validate.ts');
    expect(v.validateCompletionParams({ conversationId: '0b0c8a3e-57e4-4b8a-9a36-1f1c6ac2a001' })).toEqual([]);
    expect(v.validateCompletionParams({ conversationId: 'not-a-uuid' })).toEqual([
      { path: 'params.conversationId', message: expect.stringContaining('uuid') },
    ]);
    expect(v.validateCompletionRequest({ prompt: 'hi', maxTokens: 10 })).toEqual([]);
    expect(v.validateCompletionRequest({ maxTokens: 'ten' })).toEqual([
      { path: 'request', message: 'missing required property "prompt"' },
      { path: 'request.maxTokens', message: expect.stringContaining('integer') },
    ]);
    expect(v.validateCompletionMessage({ type: 'token', data: { text: 'a', index: 0 } })).toEqual([]);
    expect(v.validateCompletionMessage({ type: 'done', data: { finishReason: 'stop' } })).toEqual([]);
    expect(v.validateCompletionMessage({ type: 'done', data: { finishReason: 'bored' } })).toHaveLength(1);
    expect(v.validateCompletionMessage({ type: 'tokne', data: {} })).toEqual([
      { path: 'type', message: 'unknown message type "tokne"' },
    ]);
  });

  it('check in-band errors against the stream codes', async () => {
    const v = await import('../generated/room/validate.ts');
    expect(v.validateRoomMessage({ type: 'problem', data: { code: 'FORBIDDEN', message: 'no' } })).toEqual([]);
    expect(v.validateRoomMessage({ type: 'problem', data: { code: 'NOPE', message: 'no' } })).toHaveLength(1);
  });
});
