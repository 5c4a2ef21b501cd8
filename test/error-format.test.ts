// --error-format text|json|github-actions on lint, generate and check: the exact bytes CI reads.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDiagnostics, githubCommand } from '../generator/api.ts';
import type { Diagnostic } from '../generator/diagnostics.ts';
import { cli, ROOT, workDir, writeFiles } from './support/tools.ts';

const ASSISTANT = readFileSync(join(ROOT, 'spec', 'assistant.yaml'), 'utf8');
// One error (SS202: drop-newest on a stream not marked lossy) and one warning (SS205).
const BAD = ASSISTANT.replace('strategy: pull', 'strategy: drop-newest').replace('heartbeat: { interval: 15s, timeout: 45s }', 'heartbeat: { interval: 15s, timeout: 20s }');
const lineOf = (needle: string) => ASSISTANT.split('\n').findIndex((l) => l.includes(needle)) + 1;
const BP = lineOf('strategy: pull');
const HB = lineOf('heartbeat: { interval: 15s, timeout: 45s }');
const SS202 =
  'stream "completion" uses backpressure strategy "drop-newest", which discards messages, but the stream is not marked lossy. Add lossy: true if consumers may miss messages, or use pull or block.';
const SS205 = 'stream "completion" has heartbeat timeout 20s, under twice its interval 15s, so one late heartbeat forces a reconnect. Set timeout to at least 30s.';

function project(name: string, spec = BAD): string {
  const dir = workDir(name);
  writeFiles(dir, { 'spec/assistant.yaml': spec });
  return dir;
}

describe('github-actions', () => {
  type Given = Parameters<typeof githubCommand>;
  it.each<[string, { given: Given; want: string }]>([
    ['plain', { given: ['error', { file: 'spec/x.yaml', line: 12, col: 7, title: 'SS301' }, 'no.'], want: '::error file=spec/x.yaml,line=12,col=7,title=SS301::no.\n' }],
    ['message: % CR LF escaped, : and , kept', { given: ['warning', { file: 'a.yaml' }, '100% sure,\r\nnext: line'], want: '::warning file=a.yaml::100%25 sure,%0D%0Anext: line\n' }],
    ['properties: also : and , escaped', { given: ['error', { file: 'C:\\x,y.yaml', title: 'a%b\nc' }, 'm'], want: '::error file=C%3A\\x%2Cy.yaml,title=a%25b%0Ac::m\n' }],
    ['no properties', { given: ['notice', {}, 'hi'], want: '::notice::hi\n' }],
  ])('%s', (_, { given, want }) => {
    expect(githubCommand(...given)).toBe(want);
  });

  it('formatDiagnostics: one command per diagnostic, ::warning for warnings', () => {
    const d: Diagnostic[] = [
      { code: 'SS301', severity: 'error', message: 'a\nb', file: 'spec/x.yaml', line: 12, col: 7 },
      { code: 'SS205', severity: 'warning', message: 'w', file: 'spec/x.yaml', line: 3, col: 1 },
    ];
    expect(formatDiagnostics(d, new Map(), 'github-actions')).toBe(
      '::error file=spec/x.yaml,line=12,col=7,title=SS301::a%0Ab\n::warning file=spec/x.yaml,line=3,col=1,title=SS205::w\n',
    );
  });
});

describe('lint --error-format', () => {
  const dir = project('ef-lint');
  it('text: located diagnostics with source and caret on stderr, then the summary', () => {
    const r = cli(['lint', 'spec/assistant.yaml', '--error-format', 'text'], dir);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    const bpLine = BAD.split('\n')[BP - 1]!;
    const hbLine = BAD.split('\n')[HB - 1]!;
    const caret = (line: number, col: number) => `  ${' '.repeat(String(line).length + 3)}${' '.repeat(col - 1)}^\n`;
    expect(r.stderr).toBe(
      `spec/assistant.yaml:${BP}:5 error SS202 ${SS202}\n  ${BP} | ${bpLine}\n${caret(BP, 5)}` +
        `spec/assistant.yaml:${HB}:5 warning SS205 ${SS205}\n  ${HB} | ${hbLine}\n${caret(HB, 5)}` +
        'spec/assistant.yaml: 1 error, 1 warning\n',
    );
  });

  it('json: the array on stdout, nothing on stderr', () => {
    const r = cli(['lint', 'spec/assistant.yaml', '--error-format', 'json'], dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(
      JSON.stringify(
        [
          { code: 'SS202', severity: 'error', message: SS202, file: 'spec/assistant.yaml', line: BP, col: 5 },
          { code: 'SS205', severity: 'warning', message: SS205, file: 'spec/assistant.yaml', line: HB, col: 5 },
        ],
        null,
        2,
      ) + '\n',
    );
  });

  it('github-actions: workflow commands on stdout, exactly', () => {
    const r = cli(['lint', 'spec/assistant.yaml', '--error-format', 'github-actions'], dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(
      `::error file=spec/assistant.yaml,line=${BP},col=5,title=SS202::${SS202}\n` + `::warning file=spec/assistant.yaml,line=${HB},col=5,title=SS205::${SS205}\n`,
    );
  });

  it('--format stays an alias; a bad format is a usage error', () => {
    expect(cli(['lint', 'spec/assistant.yaml', '--format', 'github-actions'], dir).stdout).toMatch(/^::error file=spec\/assistant.yaml,/);
    const bad = cli(['lint', 'spec/assistant.yaml', '--error-format', 'xml'], dir);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--error-format "xml" is not a format. Use one of: text, json, github-actions.');
  });
});

describe('generate and check --error-format', () => {
  it('generate github-actions: the annotations on stdout, the summary on stderr', () => {
    const dir = project('ef-generate');
    const r = cli(['generate', 'spec/assistant.yaml', '--error-format', 'github-actions'], dir);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe(
      `::error file=spec/assistant.yaml,line=${BP},col=5,title=SS202::${SS202}\n` + `::warning file=spec/assistant.yaml,line=${HB},col=5,title=SS205::${SS205}\n`,
    );
    expect(r.stderr).toBe('spec/assistant.yaml: not generated (1 error, 1 warning); the output folder was left as it was.\n');
  });

  it('generate json: stdout is one JSON document even on success', () => {
    const dir = project('ef-generate-json', ASSISTANT);
    const r = cli(['generate', 'spec/assistant.yaml', '--error-format', 'json'], dir);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('[]\n');
    expect(r.stderr).toMatch(/^spec\/assistant.yaml -> generated\/assistant\/ \(sse\): \d+ written/);
  });

  it('check github-actions: contract diagnostics, then one annotation per stale file', () => {
    const dir = project('ef-check', ASSISTANT);
    expect(cli(['generate', 'spec/assistant.yaml'], dir).status).toBe(0);
    writeFiles(dir, { 'spec/assistant.yaml': ASSISTANT.replace('heartbeat: { interval: 15s, timeout: 45s }', 'heartbeat: { interval: 15s, timeout: 20s }') });
    const r = cli(['check', '--error-format', 'github-actions'], dir);
    expect(r.status).toBe(1);
    const [first, ...rest] = r.stdout.split('\n');
    expect(first).toBe(`::warning file=spec/assistant.yaml,line=${HB},col=5,title=SS205::${SS205}`);
    expect(rest.filter((l) => l.startsWith('spec/'))).toEqual(['spec/assistant.yaml: generated/assistant/ is out of date; run streamspec generate spec/assistant.yaml']);
    expect(rest).toContain(
      '::error file=generated/assistant/server.ts,title=streamspec check::server.ts is stale: the output of spec/assistant.yaml is out of date. Run streamspec generate spec/assistant.yaml and commit the result.',
    );
  });
});
