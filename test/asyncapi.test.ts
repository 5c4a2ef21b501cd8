// AsyncAPI 3.0 and 2.x documents as input: every document of the AsyncAPI specification's
// examples either generates code that compiles or gives only located, explained diagnostics;
// publish/subscribe and send/receive map onto the right direction; later checks report into the
// AsyncAPI file; and `convert` writes a contract that lints clean and generates the same code.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { check, convert, generate as generateWith } from '../generator/api.ts';
import { startMock } from '../generator/mock.ts';
import { generate } from '../generator/generate.ts';
import { lintSpec } from '../generator/pipeline.ts';
import { cli, readTree, removeWorkDirs, ROOT, typecheck, workDir, writeFiles } from './support/tools.ts';

afterAll(removeWorkDirs);

const FIXTURES = join(ROOT, 'test', 'fixtures', 'asyncapi');
const CORPUS = join(FIXTURES, 'corpus', 'spec-v3.0.0');
const rel = (abs: string) => relative(ROOT, abs).split('\\').join('/');

function walk(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((f) => (statSync(join(dir, f)).isDirectory() ? walk(join(dir, f)) : [join(dir, f)]));
}

/** Every AsyncAPI document of the corpus (social-media/common holds fragments they $ref). */
const DOCUMENTS = walk(CORPUS)
  .filter((f) => /\.ya?ml$/.test(f) && /^asyncapi:/m.test(readFileSync(f, 'utf8')))
  .map(rel);

/** Each diagnostic as a user reads it; also checks it is located in a file that was read and explained. */
function located(r: ReturnType<typeof lintSpec>): string[] {
  return r.diagnostics.map((d) => {
    expect(r.sources.has(d.file), `${d.code} in ${d.file}`).toBe(true);
    const lines = r.sources.get(d.file)!.split('\n');
    expect(d.line, d.message).toBeGreaterThanOrEqual(1);
    expect(d.line, d.message).toBeLessThanOrEqual(lines.length);
    expect(d.col, d.message).toBeGreaterThanOrEqual(1);
    // What is wrong, then what to do: at least two sentences.
    expect(d.message, d.code).toMatch(/[.?] \S.*[.?]$/);
    return `${d.file}:${d.line}:${d.col} ${d.severity} ${d.code} ${d.message}`;
  });
}

describe('the AsyncAPI specification examples', () => {
  it('are all here: every document in the corpus', () => {
    expect(DOCUMENTS).toHaveLength(19);
  });

  it.each(DOCUMENTS)('%s without x-streamspec: one located error per missing primitive, never a crash', (doc) => {
    const r = lintSpec(doc, { cwd: ROOT });
    const lines = located(r);
    expect(r.bound).toBeUndefined();
    // Each stream misses consumer, backpressure and termination, each reported once where its channel is.
    const missing = r.diagnostics.filter((d) => ['SS406', 'SS407', 'SS408'].includes(d.code));
    const at = new Set(missing.map((d) => `${d.file}:${d.line}:${d.col}`));
    if (missing.length) expect(missing.length).toBe(at.size * 3);
    expect(lines.length).toBeGreaterThan(0);
  });

  // Which examples carry streams streamspec can generate once defaults are assumed, and why the rest cannot.
  const OUTCOME: Record<string, string[]> = {
    'adeo-kafka-request-reply-asyncapi.yml': ['SS209', 'SS411'],
    'websocket-gemini-asyncapi.yml': ['SS107'],
  };

  const generated: string[] = [];
  it.each(DOCUMENTS)('%s with --assume-defaults: generates, or gives only located, explained errors', async (doc) => {
    const r = lintSpec(doc, { cwd: ROOT, assumeDefaults: true });
    located(r);
    const errors = [...new Set(r.diagnostics.filter((d) => d.severity === 'error').map((d) => d.code))].sort();
    expect(errors).toEqual(OUTCOME[doc.replace(/^.*spec-v3\.0\.0\//, '')] ?? []);
    // Every default taken is a warning naming the x-streamspec field that would say it.
    for (const d of r.diagnostics.filter((x) => x.code === 'SS410')) expect(d.message).toMatch(/assumed x-streamspec\.(consumer|backpressure|termination): /);
    if (errors.length) return;
    const out = join(workDir('asyncapi-corpus'), 'out');
    const g = await generateWith({ spec: doc, cwd: ROOT, out, assumeDefaults: true });
    expect(g.ok, doc).toBe(true);
    generated.push(...walk(out).filter((f) => f.endsWith('.ts')));
  });

  it('the generated code of every example that generates compiles under tsc --strict', () => {
    expect(generated.length).toBeGreaterThan(0);
    expect(typecheck('asyncapi-corpus', generated)).toEqual([]);
  });

  it('a schema problem in a $ref-ed file is reported in that file', () => {
    const r = lintSpec(`${rel(CORPUS)}/websocket-gemini-asyncapi.yml`, { cwd: ROOT, assumeDefaults: true });
    const text = readFileSync(join(CORPUS, 'websocket-gemini-asyncapi.yml'), 'utf8').split('\n');
    const line = text.findIndex((l) => l.includes('multipleOf: 0.01')) + 1;
    expect(r.diagnostics.filter((d) => d.code === 'SS107').map((d) => `${d.line}:${d.col}`)).toEqual([`${line}:13`]);
  });

  it('through the real CLI: lint is located, generate --assume-defaults writes, no stack trace', () => {
    const dir = workDir('asyncapi-cli');
    const lintRun = cli(['lint', join(CORPUS, 'streetlights-mqtt-asyncapi.yml')], dir);
    expect(lintRun.status).toBe(1);
    expect(lintRun.stderr).toMatch(/streetlights-mqtt-asyncapi\.yml:\d+:\d+ error SS406 channel "lightingMeasured" does not say who reads the stream/);
    expect(lintRun.stderr).not.toMatch(/\n\s+at /);
    const gen = cli(['generate', join(CORPUS, 'social-media', 'backend', 'asyncapi.yaml'), '--assume-defaults', '--out', 'out'], dir);
    expect(gen.stderr).not.toMatch(/\n\s+at /);
    expect(gen.stderr).toMatch(/warning SS410/);
    expect(gen.status).toBe(0);
    expect(existsSync(join(dir, 'out', 'types.ts'))).toBe(true);
    const broken = cli(['generate', join(CORPUS, 'adeo-kafka-request-reply-asyncapi.yml'), '--assume-defaults', '--out', 'out2'], dir);
    expect(broken.status).toBe(1);
    expect(broken.stderr).toMatch(/error SS411 message "costingRequest" has a payload in application\/vnd\.apache\.avro/);
    expect(broken.stderr).not.toMatch(/\n\s+at /);
  });
});

/** `name path direction messages / clientMessages` for each stream. */
function streams(doc: string): string[] {
  const r = lintSpec(doc, { cwd: ROOT });
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return r.contract!.streams.map(
    (s) => `${s.name.wire} ${s.path.template} ${s.direction} ${s.producer} [${s.messages.map((m) => m.name.wire)}] [${s.clientMessages.map((m) => m.name.wire)}]`,
  );
}

describe('direction', () => {
  it.each([
    [
      '2.6: subscribe is what the server sends, publish what clients send; both make a bidirectional stream',
      {
        given: 'lights-2.6.yaml',
        want: [
          'light-measured /v2/light/{lightId}/measured server-to-client server [lightMeasured] []',
          'light-commands /v2/light/{lightId}/commands client-to-server client [] [turnOn,dim]',
          'console /v2/console bidirectional both [status] [command]',
        ],
      },
    ],
    ['2.6: subscribe alone over http is a server-to-client stream', { given: 'feed-2.6.yaml', want: ['stories /api/stories server-to-client server [story] []'] }],
    ['3.0: send is what the server sends', { given: 'ticker-3.0.yaml', want: ['prices /v1/prices/{symbol} server-to-client server [price,trade] []'] }],
    [
      '3.0: send and receive on one channel are bidirectional; a reply goes the other way',
      { given: 'room-3.0.yaml', want: ['room /ws/rooms/{roomId} bidirectional both [said,pong] [say,ping]'] },
    ],
    [
      '3.0 written for the client: send is what the client sends',
      { given: 'frontend-3.0.yaml', want: ['likes /likes client-to-server client [] [like]', 'counts /counts server-to-client server [count] []'] },
    ],
  ] as const)('%s', (_, { given, want }) => {
    expect(streams(`test/fixtures/asyncapi/own/${given}`)).toEqual(want);
  });

  it('3.0 channels at one address are one stream (a WebSocket API on one connection)', () => {
    const r = lintSpec(`${rel(CORPUS)}/kraken-websocket-request-reply-multiple-channels-asyncapi.yml`, { cwd: ROOT, assumeDefaults: true });
    expect(r.contract!.streams.map((s) => `${s.name.wire} ${s.direction} [${s.messages.map((m) => m.name.wire)}] [${s.clientMessages.map((m) => m.name.wire)}]`)).toEqual([
      'root bidirectional [pong,heartbeat,systemStatus,subscriptionStatus,dummyCurrencyInfo] [ping,subscribe,unsubscribe]',
    ]);
  });
});

describe('x-streamspec', () => {
  it('a mistake in a value reported by a later check points at the x-streamspec field', () => {
    const dir = workDir('asyncapi-later');
    const text = readFileSync(join(FIXTURES, 'own', 'feed-2.6.yaml'), 'utf8').replace('      lossy: true\n', '');
    writeFiles(dir, { 'feed.yaml': text });
    const r = lintSpec('feed.yaml', { cwd: dir });
    const line = text.split('\n').findIndex((l) => l.includes('backpressure: { strategy: drop-oldest')) + 1;
    expect(located(r)).toEqual([
      `feed.yaml:${line}:7 error SS202 stream "stories" uses backpressure strategy "drop-oldest", which discards messages, but the stream is not marked lossy. Add lossy: true if consumers may miss messages, or use pull or block.`,
    ]);
  });

  it('the extension schema reuses the StreamSpec definitions', () => {
    const schema = JSON.parse(readFileSync(join(ROOT, 'spec', 'x-streamspec.schema.json'), 'utf8'));
    expect(schema.$defs.streamFields.properties.backpressure).toEqual({ $ref: 'streamspec.schema.json#/$defs/backpressure' });
  });
});

describe('complete 3.0 and 2.6 documents generate code that compiles', () => {
  it.each([
    ['ticker-3.0.yaml', 'sse'],
    ['ticker-3.0.yaml', 'websocket'],
    ['room-3.0.yaml', 'websocket'],
    ['lights-2.6.yaml', 'websocket'],
    ['feed-2.6.yaml', 'sse'],
    ['frontend-3.0.yaml', 'websocket'],
  ] as const)('%s over %s', async (file, transport) => {
    const out = join(workDir(`asyncapi-${transport}`), 'out');
    const g = await generate({ spec: `test/fixtures/asyncapi/own/${file}`, cwd: ROOT, out, transport });
    expect(g.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(g.ok).toBe(true);
    expect(typecheck(`asyncapi-${file}`, walk(out).filter((f) => f.endsWith('.ts')))).toEqual([]);
  });
});

describe('convert', () => {
  /** Generated files without the spec's name and hash, which the header and the conformance titles carry. */
  const body = (dir: string, spec: string) =>
    new Map(
      [...readTree(dir)]
        .filter(([p]) => !p.endsWith('manifest.json'))
        .map(([p, t]) => [p, t.replace(/^(\/\/|#) Code generated by streamspec from .*$/gm, '').split(spec).join('<spec>')]),
    );

  it.each([
    ['test/fixtures/asyncapi/own/ticker-3.0.yaml', false],
    ['test/fixtures/asyncapi/own/lights-2.6.yaml', false],
    [`${rel(CORPUS)}/social-media/backend/asyncapi.yaml`, true],
    [`${rel(CORPUS)}/kraken-websocket-request-reply-multiple-channels-asyncapi.yml`, true],
  ] as const)('%s: the contract lints clean and generates the same code', async (spec, assumeDefaults) => {
    const dir = workDir('asyncapi-convert');
    const name = spec.replace(/^.*\//, '');
    const r = convert({ spec, cwd: ROOT, assumeDefaults, out: rel(join(dir, 'converted', name)) });
    expect(r.ok).toBe(true);
    writeFiles(dir, { [`converted/${name}`]: r.text! });
    expect(r.text).toMatch(/^# yaml-language-server: \$schema=(\.\.\/)+spec\/streamspec\.schema\.json\n/);
    const back = lintSpec(`converted/${name}`, { cwd: dir });
    expect(back.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    // The same warnings, less those about the conversion itself.
    const codes = (ds: readonly { code: string }[]) => ds.map((d) => d.code).filter((c) => !c.startsWith('SS4'));
    expect(codes(back.diagnostics)).toEqual(codes(r.diagnostics));
    expect(back.converted).toBeUndefined();

    const a = await generateWith({ spec, cwd: ROOT, out: rel(join(dir, 'from-asyncapi')), assumeDefaults });
    const b = await generate({ spec: `converted/${name}`, cwd: dir, out: 'from-contract' });
    expect(a.ok && b.ok).toBe(true);
    expect(body(join(dir, 'from-contract'), `converted/${name}`)).toEqual(body(join(dir, 'from-asyncapi'), spec));
  });

  it('through the CLI: stdout, --out, and refusal with errors', () => {
    const dir = workDir('asyncapi-convert-cli');
    const spec = join(FIXTURES, 'own', 'room-3.0.yaml');
    const printed = cli(['convert', spec], dir);
    expect(printed.status).toBe(0);
    expect(printed.stdout).toMatch(/^# yaml-language-server: \$schema=.*streamspec\.schema\.json\n# Converted by streamspec convert from .*room-3\.0\.yaml\.\nstreamspec: "1\.0"\n/);
    const written = cli(['convert', spec, '-o', 'spec/room.yaml'], dir);
    expect(written.status).toBe(0);
    expect(readFileSync(join(dir, 'spec', 'room.yaml'), 'utf8')).toBe(printed.stdout.replace(/\$schema=.*\n/, `$schema=${relative(join(dir, 'spec'), join(ROOT, 'spec', 'streamspec.schema.json'))}\n`));
    expect(cli(['lint', 'spec/room.yaml'], dir).status).toBe(0);
    // A second convert to the same file, or onto the AsyncAPI document itself, overwrites nothing.
    writeFiles(dir, { 'spec/room.yaml': 'hand-written\n', 'api.yaml': readFileSync(spec, 'utf8') });
    for (const [source, out] of [[spec, 'spec/room.yaml'], ['api.yaml', 'api.yaml']] as const) {
      const again = cli(['convert', source, '--out', out], dir);
      expect(again.status).toBe(1);
      expect(again.stderr).toContain(`${out} exists; convert never overwrites a file.`);
    }
    expect(readFileSync(join(dir, 'spec', 'room.yaml'), 'utf8')).toBe('hand-written\n');
    expect(readFileSync(join(dir, 'api.yaml'), 'utf8')).toBe(readFileSync(spec, 'utf8'));

    const refused = cli(['convert', join(CORPUS, 'oneof-asyncapi.yml')], dir);
    expect(refused.status).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/error SS406 .*\n[\s\S]*not converted \(\d+ errors, 0 warnings\)\. Add the x-streamspec fields named above, or run with --assume-defaults\.\n$/);

    const already = cli(['convert', join(ROOT, 'spec', 'assistant.yaml')], dir);
    expect(already.status).toBe(1);
    expect(already.stderr).toMatch(/is a StreamSpec contract already \(it has no asyncapi field\); there is nothing to convert\./);
  });
});

describe('mock and check read AsyncAPI too', () => {
  it('mock serves a 2.6 document: its messages, then the terminal message', async () => {
    const mock = await startMock({ spec: 'test/fixtures/asyncapi/own/feed-2.6.yaml', cwd: ROOT, count: 3, interval: 1 });
    try {
      expect(mock.transport).toBe('sse');
      const route = mock.routes[0]!;
      const res = await fetch(mock.url + route.path, { headers: { accept: 'text/event-stream' } });
      expect(res.status).toBe(200);
      const events = [...(await res.text()).matchAll(/^event: (.+)$/gm)].map((m) => m[1]);
      expect(events).toEqual(['story', 'story', 'story', 'end']);
    } finally {
      await mock.close();
    }
  });

  it('check compares an AsyncAPI contract with its committed output, and sees an edit', async () => {
    const dir = workDir('asyncapi-check');
    writeFiles(dir, { 'spec/feed.yaml': readFileSync(join(FIXTURES, 'own', 'feed-2.6.yaml'), 'utf8') });
    expect((await generateWith({ spec: 'spec/feed.yaml', cwd: dir })).ok).toBe(true);
    expect((await check({ cwd: dir, specs: ['spec/feed.yaml'] })).ok).toBe(true);
    writeFiles(dir, { 'spec/feed.yaml': readFileSync(join(FIXTURES, 'own', 'feed-2.6.yaml'), 'utf8').replace('title: { type: string }', 'title: { type: string, maxLength: 200 }') });
    const stale = await check({ cwd: dir, specs: ['spec/feed.yaml'] });
    expect(stale.ok).toBe(false);
    expect(stale.contracts[0]!.stale).toContain('validate.ts');
  });
});
