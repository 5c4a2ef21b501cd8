// A contract full of strings that try to break out of their place in generated code: in titles,
// descriptions, names, enum values, property keys and patterns. The output must compile, build
// under buf, and run none of it when imported.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../generator/generate.ts';
import { buf, typecheck, workDir } from './support/tools.ts';

const SPEC = join(import.meta.dirname, 'fixtures', 'hostile', 'hostile.yaml');

describe('hostile strings', () => {
  let out: string;
  beforeAll(async () => {
    out = join(workDir('hostile'), 'out');
    const r = await generate({ spec: SPEC, out });
    expect(r.diagnostics).toEqual([]);
    expect(r.ok).toBe(true);
  });

  it('compile under tsc --strict', () => {
    const files = ['types.ts', 'validate.ts', ...readdirSync(join(out, 'runtime')).map((f) => `runtime/${f}`)];
    expect(typecheck('hostile', files.map((f) => join(out, f)))).toEqual([]);
  });

  it('build and lint under buf', () => {
    for (const args of [['build'], ['lint'], ['format', '--diff', '--exit-code']]) {
      const r = buf(args, join(out, 'proto'));
      expect(`${r.stdout}${r.stderr}`).toBe('');
    }
  });

  it('run none of it when imported, and validate by the hostile keys', async () => {
    const g = globalThis as { pwned?: unknown };
    delete g.pwned;
    const v = await import(pathToFileURL(join(out, 'validate.ts')).href);
    await import(pathToFileURL(join(out, 'types.ts')).href);
    expect(g.pwned).toBeUndefined();

    // The hostile pattern is a pattern, not code: it matches what it says.
    expect(v.validateClassParams({ constructor: 'abc' })).toEqual([]);
    expect(v.validateClassParams({ constructor: 'ABC' })).toHaveLength(1);
    // Property keys that look like code are just keys.
    const key = '"]: 1; globalThis.pwned = 13; //';
    expect(v.validateClassMessage({ type: 'Promise', data: { [key]: 'x', kind: "'); globalThis.pwned = 16; //" } })).toEqual([]);
    expect(v.validateClassMessage({ type: 'Promise', data: {} })).toEqual([{ path: 'data', message: `missing required property ${JSON.stringify(key)}` }]);
    // `__proto__` is an own property to check, not the prototype.
    const data = JSON.parse('{"__proto__": 5}');
    expect(v.validateClassMessage({ type: 'constructor', data })).toEqual([
      { path: 'data.__proto__', message: expect.stringContaining('string') },
    ]);
    expect(g.pwned).toBeUndefined();
  });
});
