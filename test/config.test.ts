// streamspec.yaml as a user meets it through the real bin: a multi-contract generate, check and
// lint with no argument, located config mistakes, init, and watch over the config.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { starterContract } from '../generator/starter.ts';
import { cli, mtimes, readTree, ROOT, workDir, writeFiles } from './support/tools.ts';

const ASSISTANT = readFileSync(join(ROOT, 'spec', 'assistant.yaml'), 'utf8');
const ROOM = readFileSync(join(ROOT, 'spec', 'room.yaml'), 'utf8');
// A contract whose message schema lives in another file, so a watch must follow the $ref.
const FEED = starterContract('../schema.json').replace("{ $ref: '#/components/schemas/Event' }", "{ $ref: 'event.yaml#/Event' }");
const EVENT = 'Event:\n  type: object\n  description: One event.\n  required: [kind]\n  properties:\n    kind: { type: string }\n';

const CONFIG = `version: 1
contracts:
  - spec: spec/assistant.yaml
    transports: [sse, ndjson]
  - spec: spec/room.yaml
`;

function project(name: string, config = CONFIG): string {
  const dir = workDir(name);
  writeFiles(dir, { 'spec/assistant.yaml': ASSISTANT, 'spec/room.yaml': ROOM, 'streamspec.yaml': config });
  return dir;
}

describe('generate with streamspec.yaml', () => {
  it('drives a multi-contract generate: one contract with two transports, one with its own', () => {
    const dir = project('config-generate');
    const r = cli(['generate'], dir);
    expect(r.status).toBe(0);
    // Only NDJSON's warning that last-event-id resume travels as a token there.
    expect(r.stderr.split('\n').filter((l) => l.startsWith('spec/'))).toEqual([expect.stringContaining('warning SS306'), expect.stringContaining('warning SS306')]);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('spec/'))).toEqual([
      expect.stringMatching(/^spec\/assistant.yaml -> generated\/assistant\/sse\/ \(sse\): \d+ written/),
      expect.stringMatching(/^spec\/assistant.yaml -> generated\/assistant\/ndjson\/ \(ndjson\): \d+ written/),
      expect.stringMatching(/^spec\/room.yaml -> generated\/room\/ \(websocket\): \d+ written/),
    ]);
    // Each folder holds exactly what generating that contract alone for that transport gives.
    for (const [args, out] of [
      [['spec/assistant.yaml', '--transport', 'sse'], 'generated/assistant/sse'],
      [['spec/assistant.yaml', '--transport', 'ndjson'], 'generated/assistant/ndjson'],
      [['spec/room.yaml'], 'generated/room'],
    ] as const) {
      const alone = workDir('config-generate-alone');
      writeFiles(alone, { 'spec/assistant.yaml': ASSISTANT, 'spec/room.yaml': ROOM });
      expect(cli(['generate', ...args, '--out', 'out'], alone).status).toBe(0);
      expect(readTree(join(dir, out))).toEqual(readTree(join(alone, 'out')));
    }
    expect(readFileSync(join(dir, 'generated/assistant/ndjson/server.ts'), 'utf8')).not.toEqual(readFileSync(join(dir, 'generated/assistant/sse/server.ts'), 'utf8'));

    const check = cli(['check'], dir);
    expect(check.status).toBe(0);
    expect(check.stdout).toBe(
      'spec/assistant.yaml: generated/assistant/sse/ is up to date\nspec/assistant.yaml: generated/assistant/ndjson/ is up to date\nspec/room.yaml: generated/room/ is up to date\n',
    );
    const lint = cli(['lint'], dir);
    expect(lint.status).toBe(0);
    expect(lint.stderr.split('\n').filter((l) => /^spec\/\S+( \(\w+\))?: /.test(l))).toEqual([
      'spec/assistant.yaml (sse): 0 errors, 0 warnings',
      'spec/assistant.yaml (ndjson): 0 errors, 2 warnings',
      'spec/room.yaml: 0 errors, 0 warnings',
    ]);
  });

  it('check reports a stale folder of the config and says to run a bare generate', () => {
    const dir = project('config-check');
    expect(cli(['generate'], dir).status).toBe(0);
    writeFiles(dir, { 'spec/room.yaml': ROOM.replace('Real-time chat rooms.', 'Chat rooms.') });
    const r = cli(['check'], dir);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('spec/room.yaml: generated/room/ is out of date; run streamspec generate\n');
  });

  it.each([
    [
      'unknown key with did-you-mean',
      { config: 'version: 1\ncontracts:\n  - spec: spec/room.yaml\n    tranports: [websocket]\n', want: 'streamspec.yaml:4:5 error SS110 contracts[0].tranports is not a config field. Did you mean "transports"?\n  4 |     tranports: [websocket]\n          ^\n' },
    ],
    ['wrong type', { config: 'version: 1\ncontracts:\n  spec: spec/room.yaml\n', want: 'streamspec.yaml:3:3 error SS110 contracts must be a list, not a mapping.\n  3 |   spec: spec/room.yaml\n        ^\n' }],
    [
      'missing spec file',
      { config: 'version: 1\ncontracts:\n  - spec: spec/rooms.yaml\n', want: 'streamspec.yaml:3:11 error SS110 contracts[0].spec names spec/rooms.yaml, which does not exist. Fix the path; it is relative to streamspec.yaml.\n  3 |   - spec: spec/rooms.yaml\n                ^\n' },
    ],
  ])('a config mistake is located, and nothing runs: %s', (_, { config, want }) => {
    const dir = project('config-bad', config);
    for (const command of ['generate', 'check', 'lint']) {
      const r = cli([command], dir);
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(`${want}streamspec.yaml: 1 error, 0 warnings; nothing was run.\n`);
    }
    expect(existsSync(join(dir, 'generated'))).toBe(false);
  });

  it('a named contract ignores the config; --transport with the config is a usage error', () => {
    const dir = project('config-named');
    const r = cli(['generate', 'spec/room.yaml'], dir);
    expect(r.status).toBe(0);
    expect(existsSync(join(dir, 'generated/assistant'))).toBe(false);
    const bad = cli(['generate', '--transport', 'sse'], dir);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--transport and --out apply to a named contract; for the contracts of streamspec.yaml, set transports and out there.');
  });
});

describe('init', () => {
  it('writes a starter streamspec.yaml naming the contract, which a bare generate then uses; never overwrites it', () => {
    const dir = workDir('config-init');
    const r = cli(['init', 'contracts/feed.yaml'], dir);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('wrote contracts/feed.yaml; next: streamspec generate contracts/feed.yaml\nwrote streamspec.yaml, naming contracts/feed.yaml; streamspec generate with no contract uses it\n');
    expect(readFileSync(join(dir, 'streamspec.yaml'), 'utf8')).toMatch(/^version: 1\ncontracts:\n {2}- spec: contracts\/feed.yaml\n/m);
    const generate = cli(['generate'], dir);
    expect(generate.stderr).toBe('');
    expect(generate.stdout).toMatch(/^contracts\/feed.yaml -> generated\/feed\/ \(sse\)/);

    writeFileSync(join(dir, 'streamspec.yaml'), 'version: 1\ncontracts:\n  - spec: contracts/feed.yaml\n    out: mine\n');
    const second = cli(['init', 'contracts/other.yaml'], dir);
    expect(second.stdout).toBe('wrote contracts/other.yaml; next: streamspec generate contracts/other.yaml\n');
    expect(readFileSync(join(dir, 'streamspec.yaml'), 'utf8')).toContain('out: mine');
  });
});

describe('watch over the config', () => {
  it('regenerates only the contract whose ($ref-ed) file changed, times each run, and survives a bad edit', async () => {
    const dir = workDir('config-watch');
    writeFiles(dir, {
      'spec/feed.yaml': FEED,
      'spec/event.yaml': EVENT,
      'spec/room.yaml': ROOM,
      'streamspec.yaml': 'version: 1\ncontracts:\n  - spec: spec/feed.yaml\n  - spec: spec/room.yaml\n',
    });
    const child = spawn(process.execPath, [join(ROOT, 'bin/streamspec.js'), 'watch'], { cwd: dir });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const runs = () => out.match(/^watch: .*$/gm) ?? [];
    const waitFor = async (pred: () => boolean, what: string) => {
      const until = Date.now() + 30_000;
      while (!pred()) {
        if (Date.now() > until) throw new Error(`timed out waiting for ${what}\nstdout:\n${out}\nstderr:\n${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    try {
      await waitFor(() => runs().length === 1, 'first run');
      expect(runs()[0]).toMatch(/^watch: 2 of 2 generated in \d+ ms; waiting for changes$/);
      const room = mtimes(join(dir, 'generated/room'));
      const before = out.length;

      // An edit to the referenced file only: the feed is regenerated, the room is not.
      writeFileSync(join(dir, 'spec/event.yaml'), EVENT.replace('One event.', 'One thing that happened.'));
      await waitFor(() => readFileSync(join(dir, 'generated/feed/types.ts'), 'utf8').includes('One thing that happened.'), 'regeneration after the $ref-ed file changed');
      await waitFor(() => runs().length === 2, 'second run reported');
      expect(runs()[1]).toMatch(/^watch: 1 of 2 generated in \d+ ms; waiting for changes$/);
      expect(out.slice(before)).not.toContain('spec/room.yaml');
      expect(mtimes(join(dir, 'generated/room'))).toEqual(room);

      // A bad edit is reported and watching goes on; the fix regenerates.
      writeFileSync(join(dir, 'spec/event.yaml'), 'Event:\n  type: objcet\n');
      await waitFor(() => err.includes('error SS105') || err.includes('error SS104'), 'the bad edit reported');
      await waitFor(() => runs().length === 3, 'third run reported');
      writeFileSync(join(dir, 'spec/event.yaml'), EVENT.replace('One event.', 'Fixed.'));
      await waitFor(() => readFileSync(join(dir, 'generated/feed/types.ts'), 'utf8').includes('Fixed.'), 'regeneration after the fix');
      expect(mtimes(join(dir, 'generated/room'))).toEqual(room);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
