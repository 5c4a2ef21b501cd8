// The Node API a build script imports: the same bytes as the CLI, results instead of exit codes,
// and silence unless asked.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import pkg from '../package.json' with { type: 'json' };
import * as api from '../generator/api.ts';
import { check, generate, lint, loadConfig } from '../generator/api.ts';
import { cli, readTree, ROOT, workDir, writeFiles } from './support/tools.ts';

const ASSISTANT = readFileSync(join(ROOT, 'spec', 'assistant.yaml'), 'utf8');
const ROOM = readFileSync(join(ROOT, 'spec', 'room.yaml'), 'utf8');

function project(name: string, files: Record<string, string> = {}): string {
  const dir = workDir(name);
  writeFiles(dir, { 'spec/assistant.yaml': ASSISTANT, 'spec/room.yaml': ROOM, ...files });
  return dir;
}

// Anything the API writes to the terminal or any attempt to exit fails the test.
let spies: { mock: { calls: unknown[] } }[] = [];
beforeEach(() => {
  spies = [
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true),
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true),
    vi.spyOn(process, 'exit').mockImplementation(() => undefined as never),
    vi.spyOn(console, 'log'),
    vi.spyOn(console, 'error'),
    vi.spyOn(console, 'warn'),
  ];
});
afterEach(() => {
  const calls = spies.map((s) => s.mock.calls.length);
  vi.restoreAllMocks();
  expect(calls).toEqual([0, 0, 0, 0, 0, 0]);
});

describe('package', () => {
  it('exports generator/api.ts as the main entry', () => {
    expect(pkg.exports['.']).toBe('./generator/api.ts');
    expect(Object.keys(api)).toEqual(expect.arrayContaining(['generate', 'lint', 'check', 'loadConfig', 'formatDiagnostics']));
  });
});

describe('generate', () => {
  it('returns exactly the files the CLI writes (bytes)', async () => {
    const viaCli = project('api-cli');
    expect(cli(['generate', 'spec/room.yaml', '--transport', 'websocket', '--out', 'out'], viaCli).status).toBe(0);
    const onDisk = readTree(join(viaCli, 'out'));

    const viaApi = project('api-api');
    const dry = await generate({ spec: 'spec/room.yaml', transport: 'websocket', out: 'out', dryRun: true, cwd: viaApi });
    expect(dry.ok).toBe(true);
    expect(dry.write).toBeUndefined();
    // The manifest is written beside the files; every generated file matches byte for byte.
    const returned = new Map(dry.files.map((f) => [f.path, f.content]));
    expect(returned.size).toBeGreaterThan(3);
    for (const [path, content] of returned) expect(onDisk.get(path), path).toBe(content);
    expect([...onDisk.keys()].filter((p) => !returned.has(p))).toEqual([expect.stringMatching(/manifest/)]);

    const written = await generate({ spec: 'spec/room.yaml', transport: 'websocket', out: 'out', cwd: viaApi });
    expect(written.ok).toBe(true);
    expect(readTree(join(viaApi, 'out'))).toEqual(onDisk);
  });

  it('reports a broken contract as a result, and logs only when asked', async () => {
    const dir = project('api-broken', { 'spec/assistant.yaml': ASSISTANT.replace('strategy: pull', 'strategy: drop-newest') });
    const r = await generate({ spec: 'spec/assistant.yaml', cwd: dir });
    expect(r.ok).toBe(false);
    expect(r.files).toEqual([]);
    expect(r.diagnostics.map((d) => d.code)).toEqual(['SS202']);
    const log: string[] = [];
    await generate({ spec: 'spec/assistant.yaml', cwd: dir, log: (t) => log.push(t), errorFormat: 'github-actions' });
    expect(log).toEqual([expect.stringMatching(/^::error file=spec\/assistant.yaml,line=\d+,col=5,title=SS202::stream "completion" uses/)]);
  });
});

describe('lint, check, loadConfig', () => {
  it('lint returns diagnostics and ok', () => {
    const dir = project('api-lint');
    expect(lint({ spec: 'spec/room.yaml', cwd: dir }).ok).toBe(true);
    const grpc = lint({ spec: 'spec/room.yaml', transport: 'grpc', cwd: dir });
    expect(grpc.ok).toBe(false);
    expect(grpc.diagnostics.map((d) => d.code)).toContain('SS304');
  });

  it('check follows the config and reports stale output per contract and transport', async () => {
    const dir = project('api-check', { 'streamspec.yaml': 'version: 1\ncontracts:\n  - spec: spec/room.yaml\n    transports: [websocket]\n  - spec: spec/assistant.yaml\n' });
    const before = await check({ cwd: dir });
    expect(before.ok).toBe(false);
    expect(before.contracts.map((c) => [c.spec, c.transport, c.outDir, c.ok, c.missing.length > 0])).toEqual([
      ['spec/room.yaml', 'websocket', 'generated/room', false, true],
      ['spec/assistant.yaml', 'sse', 'generated/assistant', false, true],
    ]);
    expect(cli(['generate'], dir).status).toBe(0);
    const after = await check({ cwd: dir });
    expect(after.ok).toBe(true);
    // Named specs take precedence over the config.
    expect((await check({ cwd: dir, specs: ['spec/room.yaml'] })).contracts.map((c) => c.spec)).toEqual(['spec/room.yaml']);
  });

  it('loadConfig: not found, found, and broken', () => {
    expect(loadConfig(project('api-noconfig'))).toMatchObject({ found: false, config: undefined, diagnostics: [] });
    const ok = loadConfig(project('api-config', { 'streamspec.yaml': 'version: 1\ncontracts:\n  - spec: spec/room.yaml\n    out: web/room\n' }));
    expect(ok.config).toEqual({ version: 1, contracts: [{ spec: 'spec/room.yaml', transports: [], out: 'web/room', options: {} }] });
    const broken = loadConfig(project('api-badconfig', { 'streamspec.yaml': 'version: 1\ncontracts: []\n' }));
    expect(broken.config).toBeUndefined();
    expect(broken.diagnostics.map((d) => `${d.file}:${d.line}:${d.col} ${d.code} ${d.message}`)).toEqual(['streamspec.yaml:2:12 SS110 contracts is empty. List at least one.']);
  });
});
