import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { workDir } from '../test/support/tools.ts';
import { formatText } from './diagnostics.ts';
import { jobsOf, parseConfig, type Config } from './config.ts';

/** A project holding spec/a.yaml (the config check only needs it to exist). */
function project(): string {
  const dir = workDir('config-unit');
  mkdirSync(join(dir, 'spec'), { recursive: true });
  writeFileSync(join(dir, 'spec', 'a.yaml'), 'streamspec: "1.0"\n');
  return dir;
}

const lines = (text: string) => {
  const r = parseConfig(text, project());
  return r.diagnostics.map((d) => `${d.line}:${d.col} ${d.severity} ${d.code} ${d.message}`);
};

describe('parseConfig: mistakes are located SS110 diagnostics', () => {
  it.each([
    ['unknown top-level key, with did-you-mean', { given: 'version: 1\ncontract:\n  - spec: spec/a.yaml\n', want: ['1:1 error SS110 the config lacks "contracts". Add it.', '2:1 error SS110 contract is not a config field. Did you mean "contracts"?'] }],
    ['unknown contract key, with did-you-mean', { given: 'version: 1\ncontracts:\n  - spec: spec/a.yaml\n    transport: [sse]\n', want: ['4:5 error SS110 contracts[0].transport is not a config field. Did you mean "transports"?'] }],
    ['unknown key with no near name lists the known ones', { given: 'version: 1\ncontracts:\n  - spec: spec/a.yaml\n    colour: red\n', want: ['4:5 error SS110 contracts[0].colour is not a config field. Use one of: spec, transports, out, sdk, options.'] }],
    ['wrong type', { given: 'version: 1\ncontracts:\n  - spec: spec/a.yaml\n    transports: sse\n', want: ['4:17 error SS110 contracts[0].transports must be a list, not string "sse".'] }],
    ['not a transport', { given: 'version: 1\ncontracts:\n  - spec: spec/a.yaml\n    transports: [sse, pigeon]\n', want: ['4:23 error SS110 contracts[0].transports[1] is "pigeon", not a transport. Use one of: sse, ndjson, websocket, grpc.'] }],
    ['wrong version', { given: 'version: 2\ncontracts:\n  - spec: spec/a.yaml\n', want: ['1:10 error SS110 version must be 1; it is the only config version.'] }],
    ['missing spec file', { given: 'version: 1\ncontracts:\n  - spec: spec/a.yaml\n  - spec: spec/gone.yaml\n', want: ['4:11 error SS110 contracts[1].spec names spec/gone.yaml, which does not exist. Fix the path; it is relative to streamspec.yaml.'] }],
    ['sdk is used, options are accepted with a warning', { given: 'version: 1\ncontracts:\n  - spec: spec/a.yaml\n    sdk: { name: x }\n    options: { fast: true }\n', want: ['5:16 warning SS111 contracts[0].options.fast is not a generator option yet; it is ignored.'] }],
    ['sdk not a mapping', { given: 'version: 1\ncontracts:\n  - spec: spec/a.yaml\n    sdk: my-client\n', want: ['4:10 error SS110 contracts[0].sdk must be a mapping such as { name: my-api-client }, not string "my-client".'] }],
    ['sdk without a name', { given: 'version: 1\ncontracts:\n  - spec: spec/a.yaml\n    sdk: {}\n', want: ['4:10 error SS110 contracts[0].sdk needs "name", the npm package name, as a string.'] }],
    ['sdk name npm rejects', { given: 'version: 1\ncontracts:\n  - spec: spec/a.yaml\n    sdk: { name: My Client }\n', want: ['4:18 error SS110 contracts[0].sdk.name "My Client" is not an npm package name: npm allows only lowercase letters, digits, "-", ".", "_", "~" and one "@scope/" prefix.'] }],
    ['sdk unknown key, with did-you-mean', { given: 'version: 1\ncontracts:\n  - spec: spec/a.yaml\n    sdk: { name: x, outt: y }\n', want: ['4:21 error SS110 contracts[0].sdk.outt is not an sdk field. Did you mean "out"?'] }],
    ['YAML syntax error keeps its own code', { given: 'version: 1\ncontracts: [\n', want: [expect.stringMatching(/^\d+:\d+ error SS101 /)] }],
  ])('%s', (_, { given, want }) => {
    expect(lines(given)).toEqual(want);
  });

  it('prints as streamspec.yaml:line:col with the source line and a caret', () => {
    const text = 'version: 1\ncontracts:\n  - spec: spec/a.yaml\n    transport: [sse]\n';
    const r = parseConfig(text, project());
    expect(formatText(r.diagnostics, new Map([['streamspec.yaml', text]]))).toBe(
      'streamspec.yaml:4:5 error SS110 contracts[0].transport is not a config field. Did you mean "transports"?\n' +
        '  4 |     transport: [sse]\n' +
        '          ^\n',
    );
  });

  it('a warning leaves the config usable; an error does not', () => {
    const dir = project();
    expect(parseConfig('version: 1\ncontracts:\n  - spec: spec/a.yaml\n    options: { fast: true }\n', dir).config?.contracts[0]?.spec).toBe('spec/a.yaml');
    expect(parseConfig('version: 1\ncontracts:\n  - spec: spec/b.yaml\n', dir).config).toBeUndefined();
  });
});

describe('jobsOf', () => {
  const config = (contracts: Config['contracts']): Config => ({ version: 1, contracts });
  it.each([
    ['own transport, default folder', { given: [{ spec: 'spec/a.yaml', transports: [], options: {} }], want: [{ spec: 'spec/a.yaml' }] }],
    ['one transport keeps the folder', { given: [{ spec: 'spec/a.yaml', transports: ['ndjson'], options: {} }], want: [{ spec: 'spec/a.yaml', transport: 'ndjson' }] }],
    ['out is kept', { given: [{ spec: 'spec/a.yaml', transports: [], out: 'web/gen', options: {} }], want: [{ spec: 'spec/a.yaml', out: 'web/gen' }] }],
    [
      'several transports: generated/<name>/<transport>',
      { given: [{ spec: 'contracts/feed.v1.yml', transports: ['sse', 'ndjson'], options: {} }], want: [{ spec: 'contracts/feed.v1.yml', transport: 'sse', out: 'generated/feed.v1/sse' }, { spec: 'contracts/feed.v1.yml', transport: 'ndjson', out: 'generated/feed.v1/ndjson' }] },
    ],
    [
      'sdk: one more job, for the first transport with a client, into generated/<name>-sdk',
      { given: [{ spec: 'spec/a.yaml', transports: ['websocket', 'ndjson'], sdk: { name: 'a-client' }, options: {} }], want: [{ spec: 'spec/a.yaml', transport: 'websocket', out: 'generated/a/websocket' }, { spec: 'spec/a.yaml', transport: 'ndjson', out: 'generated/a/ndjson' }, { spec: 'spec/a.yaml', transport: 'ndjson', out: 'generated/a-sdk', sdk: { name: 'a-client' } }] },
    ],
    ['sdk out is kept', { given: [{ spec: 'spec/a.yaml', transports: [], sdk: { name: 'a-client', out: 'pkg' }, options: {} }], want: [{ spec: 'spec/a.yaml' }, { spec: 'spec/a.yaml', out: 'pkg', sdk: { name: 'a-client' } }] }],
    [
      'several transports under out',
      { given: [{ spec: 'a.yaml', transports: ['websocket', 'grpc'], out: 'gen', options: {} }], want: [{ spec: 'a.yaml', transport: 'websocket', out: 'gen/websocket' }, { spec: 'a.yaml', transport: 'grpc', out: 'gen/grpc' }] },
    ],
  ] as const)('%s', (_, { given, want }) => {
    expect(jobsOf(config(given))).toEqual(want);
  });
});
