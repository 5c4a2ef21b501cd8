import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatText } from '../generator/diagnostics.ts';
import { lintSpec } from '../generator/pipeline.ts';
import { editSummary, streamName, streamSummary, syntheticContract } from './synthetic.ts';

const dir = mkdtempSync(join(tmpdir(), 'streamspec-synthetic-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function lint(text: string, name: string) {
  const file = join(dir, name);
  writeFileSync(file, text);
  return lintSpec(file, { transport: 'websocket' });
}

describe('syntheticContract', () => {
  it.each([
    ['10 streams', { given: 10 }],
    ['100 streams', { given: 100 }],
  ])('%s lint without errors over websocket', (_, { given }) => {
    const r = lint(syntheticContract(given), `s${given}.yaml`);
    const errors = r.diagnostics.filter((d) => d.severity === 'error');
    expect(formatText(errors, r.sources)).toBe('');
    expect(r.bound?.transport).toBe('websocket');
    expect(r.contract?.streams.map((s) => s.name.wire)).toEqual(Array.from({ length: given }, (_, i) => streamName(i)));
  });

  it('covers every direction, error mode and backpressure strategy the bench claims to vary', () => {
    const c = lint(syntheticContract(100), 'cover.yaml').contract!;
    const kinds = (f: (s: (typeof c.streams)[number]) => string) => [...new Set(c.streams.map(f))].sort();
    expect(kinds((s) => s.direction)).toEqual(['bidirectional', 'client-to-server', 'server-to-client']);
    expect(kinds((s) => s.errors.mode)).toEqual(['fail-fast', 'in-band', 'out-of-band']);
    expect(kinds((s) => s.backpressure.kind)).toEqual(['block', 'credit', 'drop-newest', 'drop-oldest', 'pull', 'sample']);
    expect(kinds((s) => s.resume.kind)).toEqual(['none', 'token']);
    expect(c.streams.some((s) => s.params.length === 2)).toBe(true);
    expect(c.streams.some((s) => s.request !== undefined)).toBe(true);
    // Schema kinds reachable from the components: the shapes that cost the most to render.
    const seen = new Set<string>();
    const walk = (n: { kind: string } & Record<string, unknown>): void => {
      seen.add(n.kind === 'integer' ? `integer:${String(n.format)}` : n.kind);
      if (n.kind === 'object') for (const p of n.properties as { schema: typeof n }[]) walk(p.schema);
      if (n.kind === 'array') walk(n.items as typeof n);
      if (n.kind === 'map') walk(n.values as typeof n);
    };
    for (const t of c.types) walk(t.schema as unknown as Parameters<typeof walk>[0]);
    expect([...seen]).toEqual(expect.arrayContaining(['object', 'array', 'map', 'enum', 'ref', 'integer:int64', 'number', 'boolean']));
  });

  it('is deterministic for a seed and differs between seeds', () => {
    expect(syntheticContract(30, 7)).toBe(syntheticContract(30, 7));
    expect(syntheticContract(30, 7)).not.toBe(syntheticContract(30, 8));
  });

  it('rejects a stream count that is not a positive integer', () => {
    expect(() => syntheticContract(0)).toThrow(RangeError);
    expect(() => syntheticContract(2.5)).toThrow(RangeError);
  });
});

describe('editSummary', () => {
  it('changes exactly one stream and the result still lints', () => {
    const before = syntheticContract(20);
    const after = editSummary(before, 11);
    const r = lint(after, 'edited.yaml');
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const summaries = r.contract!.streams.map((s) => s.summary);
    expect(summaries[11]).toBe('Edited synthetic stream 11.');
    expect(summaries.filter((s, i) => s !== streamSummary(i))).toEqual(['Edited synthetic stream 11.']);
    expect(after.split('\n').length).toBe(before.split('\n').length);
  });

  it('refuses a stream the contract does not have', () => {
    expect(() => editSummary(syntheticContract(3), 5)).toThrow(/no unique summary/);
  });
});
