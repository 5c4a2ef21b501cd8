import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { lintSpec } from '../pipeline.ts';
import { badPackageName, SDK_DEPENDENCIES, SDK_RUNTIME_FILES, SDK_TYPESCRIPT, sdkPackageJson, sdkProblem, sdkReadmeView } from './sdk.ts';

const ROOT = new URL('../../', import.meta.url);
const bound = (spec: string, transport?: 'sse' | 'ndjson' | 'websocket') => {
  const r = lintSpec(spec, { cwd: ROOT.pathname, ...(transport ? { transport } : {}) });
  return r.bound!;
};

describe('badPackageName', () => {
  it.each([
    ['plain', { given: 'feeds-client', want: undefined }],
    ['scoped', { given: '@acme/feeds.client_2', want: undefined }],
    ['empty', { given: '', want: 'it is empty' }],
    ['uppercase', { given: 'Feeds', want: 'npm allows only' }],
    ['space', { given: 'a b', want: 'npm allows only' }],
    ['two scopes', { given: '@a/b/c', want: 'npm allows only' }],
    ['leading dot', { given: '.hidden', want: 'it starts with "." or "_"' }],
    ['markdown', { given: '[x](javascript:alert(1))', want: 'npm allows only' }],
    ['too long', { given: 'a'.repeat(215), want: 'longer than 214' }],
  ])('%s', (_name, { given, want }) => {
    const got = badPackageName(given);
    if (want === undefined) expect(got).toBeUndefined();
    else expect(got).toContain(want);
  });
});

describe('sdkProblem', () => {
  it.each([
    ['an sse contract', { given: ['spec/assistant.yaml', undefined, 'x'] as const, want: undefined }],
    ['a websocket binding', { given: ['spec/room.yaml', 'websocket', 'x'] as const, want: 'only sse and ndjson' }],
    ['a bad name', { given: ['spec/assistant.yaml', undefined, 'X Y'] as const, want: '"X Y" is not an npm package name' }],
  ])('%s', (_name, { given: [spec, transport, name], want }) => {
    const got = sdkProblem(bound(spec, transport), { name });
    if (want === undefined) expect(got).toBeUndefined();
    else expect(got).toContain(want);
  });
});

describe('the SDK package', () => {
  it('pins the npm packages its runtime files import to our lockfile versions', () => {
    const lock = JSON.parse(readFileSync(new URL('package-lock.json', ROOT), 'utf8')) as { packages: Record<string, { version: string }> };
    for (const transport of ['sse', 'ndjson'] as const) {
      const imported = new Set<string>();
      for (const file of SDK_RUNTIME_FILES[transport]) {
        const text = readFileSync(new URL(`templates/runtime/${file}`, ROOT), 'utf8');
        for (const m of text.matchAll(/^import .* from '([^.][^']*)';$/gm)) imported.add(m[1]!);
      }
      expect(Object.keys(SDK_DEPENDENCIES[transport]).sort()).toEqual([...imported].sort());
      for (const [dep, version] of Object.entries(SDK_DEPENDENCIES[transport])) expect(version).toBe(lock.packages[`node_modules/${dep}`]!.version);
    }
    expect(SDK_TYPESCRIPT).toBe(lock.packages['node_modules/typescript']!.version);
  });

  it('records the contract it was built from and takes its version from info.version', () => {
    const b = bound('spec/assistant.yaml');
    const pkg = JSON.parse(sdkPackageJson(b, { name: '@acme/assistant' })) as Record<string, unknown>;
    expect(pkg).toMatchObject({ name: '@acme/assistant', version: b.contract.version, streamspec: { spec: 'spec/assistant.yaml', specHash: b.contract.hash } });
  });

  it('gives the README a usage example per stream, with finished literals', () => {
    const view = sdkReadmeView(bound('spec/assistant.yaml'), { name: '@acme/assistant' });
    expect(view.moduleName).toBe('"@acme/assistant"');
    expect(view.streams.map((s) => [s.openFn, s.requestType, s.cases.map((c) => c.literal)])).toEqual([
      ['openCompletion', 'CompletionRequest', ['"token"', '"usage"', '"done"']],
      ['openHistory', 'HistoryRequest', ['"turn"', '"end"']],
    ]);
    expect(view.streams[0]!.args).toBe('{ params: { conversationId: "..." }, request, signal: controller.signal }');
  });
});
