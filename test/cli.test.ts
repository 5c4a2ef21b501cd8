// The command line as a user meets it: exit codes, output, atomic and owned writes, check,
// proto field stability across edits, init and watch. Runs the real bin in a temp project.

import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buf, cli, mtimes, readTree, ROOT, workDir, writeFiles } from './support/tools.ts';

const ASSISTANT = readFileSync(join(ROOT, 'spec', 'assistant.yaml'), 'utf8');

/** A temp project holding spec/assistant.yaml. */
function project(name: string, spec = ASSISTANT): string {
  const dir = workDir(name);
  writeFiles(dir, { 'spec/assistant.yaml': spec });
  return dir;
}

describe('usage', () => {
  it.each([
    [['--help'], 0, /^streamspec: typed streaming/],
    [['generate', '--help'], 0, /^Usage: streamspec generate/],
    [['lint', '--help'], 0, /^Usage: streamspec lint/],
    [['check', '--help'], 0, /^Usage: streamspec check/],
    [['watch', '--help'], 0, /^Usage: streamspec watch/],
    [['init', '--help'], 0, /^Usage: streamspec init/],
  ] as const)('%j prints help and exits %i', (args, status, text) => {
    const r = cli(args, ROOT);
    expect(r.status).toBe(status);
    expect(r.stdout).toMatch(text);
  });

  it.each([
    [[], /Usage:/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['generate'], /name at least one contract/],
    [['lint', 'spec/assistant.yaml', '--transport', 'carrier-pigeon'], /--transport "carrier-pigeon" is not a transport. Use one of: sse, ndjson, websocket, grpc./],
    [['lint', 'spec/assistant.yaml', '--bogus'], /Unknown option '--bogus'/],
  ] as const)('%j is a usage error: exit 2, no stack trace', (args, text) => {
    const r = cli(args, ROOT);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(text);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('lint', () => {
  it('prints located diagnostics with the source line and a caret, exit 1', () => {
    const dir = project('lint-text', ASSISTANT.replace('termination:\n      message: done', 'terminaton:\n      message: done'));
    const r = cli(['lint', 'spec/assistant.yaml'], dir);
    expect(r.status).toBe(1);
    const line = ASSISTANT.split('\n').findIndex((l) => l.includes('termination:')) + 1;
    expect(r.stderr).toContain(`spec/assistant.yaml:${line}:5 error SS103 streams.completion.terminaton is not a stream field. Did you mean "termination"?`);
    expect(r.stderr).toContain(`  ${line} |     terminaton:\n  ${' '.repeat(String(line).length + 3)}    ^`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('--format json prints an array of {code, severity, message, file, line, col}', () => {
    const dir = project('lint-json', ASSISTANT.replace('heartbeat: { interval: 15s, timeout: 45s }', 'heartbeat: { interval: 15s, timeout: 20s }'));
    const r = cli(['lint', 'spec/assistant.yaml', '--format', 'json'], dir);
    expect(r.status).toBe(0); // a warning is not an error
    const line = ASSISTANT.split('\n').findIndex((l) => l.includes('heartbeat: { interval: 15s, timeout: 45s }')) + 1;
    expect(JSON.parse(r.stdout)).toEqual([
      {
        code: 'SS205',
        severity: 'warning',
        message: 'stream "completion" has heartbeat timeout 20s, under twice its interval 15s, so one late heartbeat forces a reconnect. Set timeout to at least 30s.',
        file: 'spec/assistant.yaml',
        line,
        col: 5,
      },
    ]);
  });

  it('a YAML syntax error is located, never a stack trace', () => {
    const dir = project('lint-yaml', 'streamspec: "1.0"\ninfo: [unclosed\n');
    const r = cli(['lint', 'spec/assistant.yaml'], dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^spec\/assistant\.yaml:\d+:\d+ error SS101 /);
  });

  it('a missing file is SS100', () => {
    const r = cli(['lint', 'spec/nope.yaml'], project('lint-missing'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^spec\/nope\.yaml:1:1 error SS100 /);
  });
});

describe('generate', () => {
  it('writes generated/<spec>/ and reports what it wrote; a second run changes nothing', () => {
    const dir = project('gen');
    const r = cli(['generate', 'spec/assistant.yaml'], dir);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const files = [...readTree(join(dir, 'generated/assistant')).keys()].filter((f) => f !== '.streamspec-manifest.json');
    expect(files).toContain('server.ts');
    expect(files).toContain('client.ts');
    expect(files).toContain('conformance/completion.conformance.test.ts');
    expect(r.stdout).toBe(`spec/assistant.yaml -> generated/assistant/ (sse): ${files.length} written, 0 unchanged, 0 removed\n`);
    const before = mtimes(join(dir, 'generated'));
    const again = cli(['generate', 'spec/assistant.yaml'], dir);
    expect(again.stdout).toContain(`0 written, ${files.length} unchanged, 0 removed`);
    expect(mtimes(join(dir, 'generated'))).toEqual(before);
  });

  it('a contract with errors leaves the previous output byte-identical', () => {
    const dir = project('gen-atomic');
    expect(cli(['generate', 'spec/assistant.yaml'], dir).status).toBe(0);
    const bytes = readTree(join(dir, 'generated'));
    const times = mtimes(join(dir, 'generated'));
    writeFileSync(join(dir, 'spec/assistant.yaml'), ASSISTANT.replace('strategy: pull', 'strategy: drop-oldest'));
    const r = cli(['generate', 'spec/assistant.yaml'], dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('error SS202');
    expect(r.stderr).toContain('spec/assistant.yaml: not generated (1 error, 0 warnings); the output folder was left as it was.');
    expect(readTree(join(dir, 'generated'))).toEqual(bytes);
    expect(mtimes(join(dir, 'generated'))).toEqual(times);
  });

  it('refuses to overwrite a file it did not write, and names it', () => {
    const dir = project('gen-owned');
    writeFiles(dir, { 'generated/assistant/types.ts': '// mine\n' });
    const r = cli(['generate', 'spec/assistant.yaml'], dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('generated/assistant/types.ts');
    expect(r.stderr).toContain('was not written by streamspec');
    expect(readFileSync(join(dir, 'generated/assistant/types.ts'), 'utf8')).toBe('// mine\n');
    expect(existsSync(join(dir, 'generated/assistant/validate.ts'))).toBe(false);
  });

  it('a corrupt proto.lock.json is reported and nothing is written', () => {
    const dir = project('gen-lock');
    expect(cli(['generate', 'spec/assistant.yaml'], dir).status).toBe(0);
    writeFileSync(join(dir, 'generated/assistant/proto.lock.json'), '{ not json');
    const bytes = readTree(join(dir, 'generated'));
    const r = cli(['generate', 'spec/assistant.yaml'], dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^spec\/assistant\.yaml: not generated: generated\/assistant\/proto\.lock\.json is corrupt \(.+\); nothing was written\. Restore it from version control/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(readTree(join(dir, 'generated'))).toEqual(bytes);
  });

  it('never deletes a file it did not write, and removes its own stale files', () => {
    const dir = project('gen-delete');
    expect(cli(['generate', 'spec/assistant.yaml', '--transport', 'ndjson'], dir).status).toBe(0);
    writeFiles(dir, { 'generated/assistant/NOTES.md': 'keep me\n' });
    expect(cli(['generate', 'spec/assistant.yaml'], dir).status).toBe(0);
    expect(readFileSync(join(dir, 'generated/assistant/NOTES.md'), 'utf8')).toBe('keep me\n');
  });
});

describe('check --breaking', () => {
  it('passes an unchanged proto and fails a removed field with buf\'s message', () => {
    const ingest = readFileSync(join(ROOT, 'spec/ingest.yaml'), 'utf8');
    const dir = workDir('check-breaking');
    writeFiles(dir, { 'spec/ingest.yaml': ingest });
    expect(cli(['check', '--breaking', 'spec/ingest.yaml'], dir).stdout).toContain('no generated proto in generated/ingest/proto/ to compare with');
    expect(cli(['generate', 'spec/ingest.yaml'], dir).status).toBe(0);
    const same = cli(['check', '--breaking', 'spec/ingest.yaml'], dir);
    expect(same.stdout).toContain('spec/ingest.yaml: proto has no breaking changes against generated/ingest/proto/');
    expect(same.status).toBe(0);
    writeFiles(dir, { 'spec/ingest.yaml': ingest.replace('        region: { type: string }\n', '') });
    const broken = cli(['check', '--breaking', 'spec/ingest.yaml'], dir);
    expect(broken.status).toBe(1);
    expect(broken.stdout).toMatch(/proto breaks clients built from generated\/ingest\/proto\/ \(buf breaking; positions in the proto generate writes now\):\n {2}generated\/ingest\/proto\/ingest\/v1\/ingest\.proto:\d+:\d+:Previously present field "2" with name "region" on message "Host" was deleted\./);
  });
  it('--against REF compares with the proto committed at a git ref, even after the output was regenerated', () => {
    const ingest = readFileSync(join(ROOT, 'spec/ingest.yaml'), 'utf8');
    const dir = workDir('check-breaking-against');
    writeFiles(dir, { 'spec/ingest.yaml': ingest });
    expect(cli(['generate', 'spec/ingest.yaml'], dir).status).toBe(0);
    const git = (...a: string[]) => execFileSync('git', a, { cwd: dir, stdio: 'pipe' });
    git('init', '-q', '-b', 'main');
    git('-c', 'user.email=t@t', '-c', 'user.name=t', 'add', '.');
    git('-c', 'user.email=t@t', '-c', 'user.name=t', 'commit', '-qm', 'release');
    git('tag', 'v1');
    writeFiles(dir, { 'spec/ingest.yaml': ingest.replace('        region: { type: string }\n', '') });
    expect(cli(['generate', 'spec/ingest.yaml'], dir).status).toBe(0);
    // The output folder now matches the edit, so only the ref still remembers the field.
    expect(cli(['check', '--breaking', 'spec/ingest.yaml'], dir).status).toBe(0);
    const r = cli(['check', '--breaking', '--against', 'v1', 'spec/ingest.yaml'], dir);
    expect(r.stdout).toContain('proto breaks clients built from generated/ingest/proto at v1/');
    expect(r.stdout).toMatch(/Previously present field "2" with name "region" on message "Host" was deleted\./);
    expect(r.status).toBe(1);
  });
});

describe('check', () => {
  it('is quiet and exits 0 when up to date, lists stale files and exits 1 otherwise', () => {
    const dir = project('check');
    expect(cli(['generate', 'spec/assistant.yaml'], dir).status).toBe(0);
    const ok = cli(['check'], dir);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toBe('spec/assistant.yaml: generated/assistant/ is up to date\n');

    writeFileSync(join(dir, 'spec/assistant.yaml'), ASSISTANT.replace('Tokens of one completion', 'The tokens of one completion'));
    const stale = cli(['check'], dir);
    expect(stale.status).toBe(1);
    expect(stale.stdout).toContain('spec/assistant.yaml: generated/assistant/ is out of date; run streamspec generate spec/assistant.yaml');
    expect(stale.stdout).toContain('stale    types.ts');
    expect(stale.stdout).toContain('stale    proto/assistant/v1/assistant.proto');
  });

  it('passes on this repository (generated/ is committed and current)', () => {
    const r = cli(['check'], ROOT);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

describe('proto field numbers across edits', () => {
  function tokenSchema(props: string): string {
    return ASSISTANT.replace(/    Token:\n(?:      .*\n|        .*\n)+/, `    Token:\n      type: object\n      properties:\n${props}`);
  }
  const A = '        text: { type: string }\n        index: { type: integer, format: int32 }\n';

  function step(dir: string, props: string): { proto: string; breaking: ReturnType<typeof buf> } {
    const before = join(workDir('proto-before'), 'proto');
    cpSync(join(dir, 'generated/assistant/proto'), before, { recursive: true });
    writeFileSync(join(dir, 'spec/assistant.yaml'), tokenSchema(props));
    const r = cli(['generate', 'spec/assistant.yaml'], dir);
    expect(r.stderr).toBe('');
    const protoDir = join(dir, 'generated/assistant/proto');
    return {
      proto: readFileSync(join(protoDir, 'assistant/v1/assistant.proto'), 'utf8'),
      breaking: buf(['breaking', '--against', before], protoDir),
    };
  }

  const tokenMessage = (proto: string) => /message Token \{[^}]*\}/.exec(proto)![0];

  it('keeps numbers on add and reorder (buf breaking passes), reserves on rename and remove (buf breaking reports it)', () => {
    const dir = project('proto-stable', tokenSchema(A));
    expect(cli(['generate', 'spec/assistant.yaml'], dir).status).toBe(0);

    const added = step(dir, `${A}        logprob: { type: number }\n`);
    expect(tokenMessage(added.proto)).toMatch(/optional string text = 1;\s+optional int32 index = 2;\s+optional double logprob = 3;/);
    expect(added.breaking.status).toBe(0);

    const reordered = step(dir, '        logprob: { type: number }\n        index: { type: integer, format: int32 }\n        text: { type: string }\n');
    expect(tokenMessage(reordered.proto)).toMatch(/optional double logprob = 3;\s+optional int32 index = 2;\s+optional string text = 1;/);
    expect(reordered.breaking.status).toBe(0);

    const renamed = step(dir, '        logprob: { type: number }\n        position: { type: integer, format: int32 }\n        text: { type: string }\n');
    expect(tokenMessage(renamed.proto)).toMatch(/reserved 2;\s+reserved "index";/);
    expect(tokenMessage(renamed.proto)).toMatch(/optional int32 position = 4;/);

    const removed = step(dir, '        position: { type: integer, format: int32 }\n        text: { type: string }\n');
    expect(tokenMessage(removed.proto)).toMatch(/reserved 2, 3;\s+reserved "index", "logprob";/);
    expect(removed.breaking.status).not.toBe(0);
    expect(removed.breaking.stdout + removed.breaking.stderr).toMatch(/Previously present field "3" with name "logprob" on message "Token" was deleted/);
  });
});

describe('init', () => {
  it('writes a starter contract that lints clean, and refuses to overwrite it', () => {
    const dir = workDir('init');
    const r = cli(['init'], dir);
    expect(r.status).toBe(0);
    // init also writes a starter streamspec.yaml naming the contract (issue 9).
    expect(r.stdout).toBe('wrote spec/service.yaml; next: streamspec generate spec/service.yaml\nwrote streamspec.yaml, naming spec/service.yaml; streamspec generate with no contract uses it\n');
    const lint = cli(['lint', 'spec/service.yaml'], dir);
    expect(lint.stderr).toBe('spec/service.yaml: 0 errors, 0 warnings\n');
    expect(cli(['generate', 'spec/service.yaml'], dir).status).toBe(0);
    const again = cli(['init'], dir);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('spec/service.yaml already exists; nothing was written.');
  });
});

describe('watch', () => {
  it('regenerates on save and keeps running after a bad edit', async () => {
    const dir = project('watch');
    const child = spawn(process.execPath, [join(ROOT, 'bin/streamspec.js'), 'watch', 'spec/assistant.yaml'], { cwd: dir });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const waitFor = async (pred: () => boolean, what: string) => {
      const until = Date.now() + 20_000;
      while (!pred()) {
        if (Date.now() > until) throw new Error(`timed out waiting for ${what}\nstdout:\n${out}\nstderr:\n${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    try {
      await waitFor(() => (out.match(/waiting for changes/g) ?? []).length === 1, 'first run');
      writeFileSync(join(dir, 'spec/assistant.yaml'), ASSISTANT.replace('strategy: pull', 'strategy: drop-newest'));
      await waitFor(() => err.includes('error SS202'), 'the bad edit reported');
      writeFileSync(join(dir, 'spec/assistant.yaml'), ASSISTANT.replace('Tokens of one completion', 'Every token'));
      await waitFor(() => readFileSync(join(dir, 'generated/assistant/types.ts'), 'utf8').includes('Every token'), 'regeneration after the fix');
    } finally {
      child.kill('SIGTERM');
    }
  });
});
