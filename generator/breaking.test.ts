import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeWorkDirs, ROOT, workDir } from '../test/support/tools.ts';
import { checkBreaking } from './breaking.ts';
import { generate } from './generate.ts';

afterAll(removeWorkDirs);

const SPEC = readFileSync(join(ROOT, 'test/fixtures/grpc/market.yaml'), 'utf8');

/** A work folder with the market contract generated once, then the spec edited by `edit`. */
async function edited(name: string, edit: (spec: string) => string) {
  const dir = workDir(`breaking-${name}`);
  writeFileSync(join(dir, 'market.yaml'), SPEC);
  const first = await generate({ spec: 'market.yaml', out: 'out', cwd: dir });
  expect(first.ok).toBe(true);
  writeFileSync(join(dir, 'market.yaml'), edit(SPEC));
  return checkBreaking({ spec: 'market.yaml', out: 'out', cwd: dir });
}

describe('checkBreaking', () => {
  it.each([
    ['an unchanged contract', (s: string) => s],
    ['a new optional property', (s: string) => s.replace('        tags: { type: object', '        note: { type: string }\n        tags: { type: object')],
    ['a new message type', (s: string) => s.replace("      note: { type: string }", "      note: { type: string }\n      halt: { type: string }")],
  ])('passes %s', async (name, edit) => {
    const r = await edited(name.replace(/\W+/g, '-'), edit);
    expect(r).toMatchObject({ kind: 'compared', ok: true, problems: [] });
  });

  it("fails a removed property with buf's message, under the output folder", async () => {
    const r = await edited('removed', (s) => s.replace('        venues: { type: array, items: { type: array, items: { type: string } } }\n', ''));
    expect(r.kind).toBe('compared');
    if (r.kind !== 'compared') return;
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([
      expect.stringMatching(/^out\/proto\/market\/v1\/market\.proto:\d+:\d+:Previously present field "4" with name "venues" on message "Quote" was deleted\.$/),
      expect.stringMatching(/^out\/proto\/market\/v1\/market\.proto:\d+:\d+:Previously present message "Quote\.Venues" was deleted from file\.$/),
    ]);
  });

  it('fails a removed stream', async () => {
    const r = await edited('removed-stream', (s) => s.slice(0, s.indexOf('  desk:')) + s.slice(s.indexOf('components:')));
    expect(r.ok).toBe(false);
    expect(r.kind === 'compared' && r.problems.some((p) => p.includes('Previously present RPC "Desk" on service "MarketService" was deleted'))).toBe(true);
  });

  it('has no baseline before the first generate', async () => {
    const dir = workDir('breaking-none');
    cpSync(join(ROOT, 'test/fixtures/grpc/market.yaml'), join(dir, 'market.yaml'));
    expect(await checkBreaking({ spec: 'market.yaml', out: 'out', cwd: dir })).toMatchObject({ kind: 'no-baseline', ok: true, against: 'out/proto' });
  });
});
