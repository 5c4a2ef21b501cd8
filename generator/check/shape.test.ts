import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../diagnostics.ts';
import { loadContract, loadYamlText } from '../load/load.ts';
import { checkShape } from './shape.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

// The smallest contract the shape check accepts; lines 1-10. Cases add lines from line 11, or
// replace a line, so positions in `want` are easy to count.
const BASE = [
  'streamspec: "1.0"',
  'info: { title: A, version: "1" }',
  'package: a.v1',
  'streams:',
  '  s:',
  '    path: /s',
  '    direction: server-to-client',
  '    producer: server',
  '    consumer: browser',
  '    backpressure: { strategy: pull }',
];

/** BASE with `replace` applied (1-based line -> new text, '' to delete) and `add` appended. */
function contract(add: string[] = [], replace: Record<number, string> = {}): string {
  const out = BASE.map((line, i) => replace[i + 1] ?? line).filter((line, i) => !(i + 1 in replace && replace[i + 1] === ''));
  return [...out, ...add, ''].join('\n');
}

function check(text: string): string[] {
  const { file, diagnostics } = loadYamlText('c.yaml', text);
  expect(diagnostics).toEqual([]);
  return checkShape(file!).map((d: Diagnostic) => `${d.line}:${d.col} ${d.code} ${d.message}`);
}

describe('checkShape', () => {
  it('accepts the smallest valid contract, and x- extensions where they are allowed', () => {
    expect(check(contract())).toEqual([]);
    expect(check(contract(['    x-owner: team-a', 'x-generated: true'], { 2: 'info: { title: A, version: "1", x-id: 7 }' }))).toEqual([]);
  });

  const cases: [string, { given: string; want: string[] }][] = [
    // SS102 missing required field: at the key of the object that lacks it.
    [
      'SS102 a stream without path',
      {
        given: contract([], { 6: '' }),
        want: ['5:3 SS102 streams.s has no "path". Add "path", the URL path of the stream, starting with "/".'],
      },
    ],
    [
      'SS102 a document without package',
      {
        given: contract([], { 3: '' }),
        want: ['1:1 SS102 The document has no "package". Add "package", the package of the service, such as assistant.v1.'],
      },
    ],
    [
      'SS102 a termination without message',
      {
        given: contract(['    termination: { payload: { type: object } }']),
        want: [
          '11:5 SS102 streams.s.termination has no "message". Add "message", the name of the terminal message, distinct from every message name, such as done.',
        ],
      },
    ],
    [
      'SS102 no streams at all',
      {
        given: 'streamspec: "1.0"\ninfo: { title: A, version: "1" }\npackage: a.v1\nstreams: {}\n',
        want: ['4:1 SS102 streams is empty. Add at least one stream.'],
      },
    ],
    // SS103 unknown field: at the key, with did-you-mean or what to do.
    [
      'SS103 a misspelt stream field',
      {
        given: contract(['    terminaton: { message: done }']),
        want: ['11:5 SS103 streams.s.terminaton is not a stream field. Did you mean "termination"?'],
      },
    ],
    [
      'SS103 an unknown top-level field with no near name',
      {
        given: contract(['owner: team-a']),
        want: ['11:1 SS103 owner is not a top-level field. Remove it, or prefix it with "x-" to keep it as an extension.'],
      },
    ],
    [
      'SS103 an unknown field where x- is not allowed lists the fields',
      {
        given: contract([], { 10: '    backpressure: { strategy: pull, size: 8 }' }),
        want: [
          '10:37 SS103 streams.s.backpressure.size is not a backpressure field. Remove it; the fields here are strategy, buffer, credits, interval.',
        ],
      },
    ],
    [
      'SS103 a misspelt schema keyword',
      {
        given: contract(['    request: { type: object, requird: [a] }']),
        want: ['11:30 SS103 streams.s.request.requird is not a schema keyword streamspec supports. Did you mean "required"?'],
      },
    ],
    // SS104 wrong type: at the value.
    [
      'SS104 a quoted boolean',
      {
        given: contract(['    lossy: "yes"']),
        want: ['11:12 SS104 streams.s.lossy is "yes", which is not a boolean. Write true or false.'],
      },
    ],
    [
      'SS104 a quoted integer',
      {
        given: contract([], { 10: '    backpressure: { strategy: pull, buffer: "64" }' }),
        want: ['10:45 SS104 streams.s.backpressure.buffer is "64", which is not an integer. Write the number without quotes.'],
      },
    ],
    [
      'SS104 a version YAML reads as a number',
      {
        given: contract([], { 2: 'info: { title: A, version: 1.0 }' }),
        want: ['2:28 SS104 info.version is the number 1, which is not a string. Quote it so YAML reads it as a string.'],
      },
    ],
    [
      'SS104 a list where a mapping belongs',
      {
        given: 'streamspec: "1.0"\ninfo: { title: A, version: "1" }\npackage: a.v1\nstreams: [s]\n',
        want: ['4:10 SS104 streams is a list, which is not a mapping. Write a mapping of keys to values here.'],
      },
    ],
    [
      'SS104 additionalProperties neither boolean nor schema',
      {
        given: contract(['    request: { type: object, additionalProperties: 3 }']),
        want: [
          '11:52 SS104 streams.s.request.additionalProperties is the number 3, which is not a boolean or a mapping. Write false (no other keys), true (any other keys) or a schema for the values of a map.',
        ],
      },
    ],
    // SS105 value not allowed: at the value, listing what is.
    [
      'SS105 an unknown backpressure strategy',
      {
        given: contract([], { 10: '    backpressure: { strategy: fast }' }),
        want: [
          '10:31 SS105 streams.s.backpressure.strategy is "fast", which is not a backpressure strategy. Use one of: pull, credit, drop-oldest, drop-newest, block, sample.',
        ],
      },
    ],
    [
      'SS105 a near miss gets a suggestion too',
      {
        given: contract([], { 7: '    direction: server-to-clients' }),
        want: [
          '7:16 SS105 streams.s.direction is "server-to-clients", which is not a direction. Use one of: server-to-client, client-to-server, bidirectional. Did you mean "server-to-client"?',
        ],
      },
    ],
    [
      'SS105 a package name that is not lowercase dotted',
      {
        given: contract([], { 3: 'package: Assistant.V1' }),
        want: [
          '3:10 SS105 package is "Assistant.V1", which is not a valid package name. Use lowercase segments of letters, digits and _ separated by dots, each starting with a letter, such as assistant.v1.',
        ],
      },
    ],
    [
      'SS105 an error code not in UPPER_SNAKE_CASE',
      {
        given: contract(['    errors: { mode: fail-fast, codes: [OK_CODE, rate-limited] }']),
        want: [
          '11:49 SS105 streams.s.errors.codes[1] is "rate-limited", which is not a valid error code. Use UPPER_SNAKE_CASE starting with a letter, such as RATE_LIMITED.',
        ],
      },
    ],
    [
      'SS105 a buffer below 1',
      {
        given: contract([], { 10: '    backpressure: { strategy: pull, buffer: 0 }' }),
        want: ['10:45 SS105 streams.s.backpressure.buffer is the number 0, which is below the minimum of 1. Use 1 or more.'],
      },
    ],
    [
      'SS105 a repeated error code, at the repeat',
      {
        given: contract(['    errors: { mode: fail-fast, codes: [BUSY, GONE, BUSY] }']),
        want: ['11:52 SS105 streams.s.errors.codes lists "BUSY" twice. Remove the second one.'],
      },
    ],
    [
      'SS105 a bad type inside a list of types, reported once (no anyOf cascade)',
      {
        given: contract(['    request: { type: [string, strin] }']),
        want: [
          '11:31 SS105 streams.s.request.type[1] is "strin", which is not a JSON Schema type. Use one of: string, number, integer, boolean, object, array, null. Did you mean "string"?',
        ],
      },
    ],
    // SS106 version.
    [
      'SS106 another version',
      {
        given: contract([], { 1: 'streamspec: "2.0"' }),
        want: ['1:13 SS106 streamspec is "2.0", but this generator reads StreamSpec "1.0" only. Write streamspec: "1.0".'],
      },
    ],
    [
      'SS106 the version unquoted',
      {
        given: contract([], { 1: 'streamspec: 1.0' }),
        want: ['1:13 SS106 streamspec is the number 1, not the string "1.0". Write streamspec: "1.0", with the quotes.'],
      },
    ],
    // SS107 JSON Schema keywords streamspec cannot carry: at the keyword.
    [
      'SS107 if/then in a message payload',
      {
        given: contract(['    messages:', '      tick: { type: object, if: { required: [a] }, then: { required: [b] } }']),
        want: [
          '12:29 SS107 streams.s.messages.tick uses "if", a conditional schema streamspec cannot turn into a TS type or a proto message. Use oneOf with a const property on each variant instead.',
          '12:52 SS107 streams.s.messages.tick uses "then", a conditional schema streamspec cannot turn into a TS type or a proto message. Use oneOf with a const property on each variant instead.',
        ],
      },
    ],
    [
      'SS107 patternProperties in a component schema',
      {
        given: contract(['components:', '  schemas:', '    Labels: { type: object, patternProperties: { "^a": { type: string } } }']),
        want: [
          '13:29 SS107 components.schemas.Labels uses "patternProperties", which no TS type or proto message can express. Use additionalProperties with a schema for a map, or list the properties.',
        ],
      },
    ],
    // SS108 durations.
    [
      'SS108 a duration without a unit',
      {
        given: contract(['    heartbeat: { interval: "15", timeout: 45s }']),
        want: [
          '11:28 SS108 streams.s.heartbeat.interval is "15", which is not a duration. Write a whole number followed by ms, s, m or h, such as 250ms or 15s.',
        ],
      },
    ],
    [
      'SS108 a duration written as a number',
      {
        given: contract([], { 10: '    backpressure: { strategy: sample, interval: 250 }' }),
        want: [
          '10:49 SS108 streams.s.backpressure.interval is the number 250, which is not a duration. Write a whole number followed by ms, s, m or h, such as 250ms or 15s.',
        ],
      },
    ],
  ];
  it.each(cases)('%s', (_, { given, want }) => {
    expect(check(given)).toEqual(want);
  });

  it('reports every problem of a document in source order', () => {
    const given = contract(['    lossy: 1', '    sumary: hi'], { 1: 'streamspec: "0.9"' });
    expect(check(given).map((line) => line.split(' ').slice(0, 2).join(' '))).toEqual(['1:13 SS106', '11:12 SS104', '12:5 SS103']);
  });

  it('points into the right file when the contract came from disk', () => {
    const { root } = loadContract('test/fixtures/shape/bad-strategy.yaml', { cwd: REPO });
    const [d] = checkShape(root!);
    expect(d).toMatchObject({ code: 'SS105', file: 'test/fixtures/shape/bad-strategy.yaml', line: 14, col: 31 });
  });

  it('checks schemas that $refs reach in other files, and reports them there', () => {
    const { root, files, diagnostics } = loadContract('test/fixtures/shape/split.yaml', { cwd: REPO });
    expect(diagnostics).toEqual([]);
    expect(checkShape(root!)).toEqual([]);
    expect(checkShape(root!, files).map((d) => `${d.file}:${d.line}:${d.col} ${d.code} ${d.message}`)).toEqual([
      'test/fixtures/shape/lib/schemas.yaml:6:30 SS103 components.schemas.Item.properties.tags.itms is not a schema keyword streamspec supports. Did you mean "items"?',
    ]);
  });

  it.each([
    [
      'an empty file',
      {
        given: '# nothing yet\n',
        want: [
          '1:1 SS104 The document is empty, which is not a mapping. Write a mapping with at least: streamspec, info, package, streams.',
        ],
      },
    ],
    [
      'a bare string',
      {
        given: 'hello\n',
        want: [
          '1:1 SS104 The document is "hello", which is not a mapping. Write a mapping with at least: streamspec, info, package, streams.',
        ],
      },
    ],
  ])('SS104 %s', (_, { given, want }) => {
    expect(check(given)).toEqual(want);
  });
});

describe('spec/streamspec.schema.json', () => {
  it('describes every field, so editors show help on completion', () => {
    const schema = JSON.parse(readFileSync(`${REPO}spec/streamspec.schema.json`, 'utf8'));
    const undescribed: string[] = [];
    const visit = (node: unknown, path: string): void => {
      if (!node || typeof node !== 'object') return;
      const props = (node as { properties?: Record<string, { description?: string; $ref?: string }> }).properties ?? {};
      for (const [name, prop] of Object.entries(props)) {
        const target = prop.$ref ? schema.$defs[prop.$ref.replace('#/$defs/', '')] : undefined;
        if (!prop.description && !target?.description) undescribed.push(`${path}.${name}`);
      }
      // A `properties` map holds schemas, so walk into its values, never treat it as a schema.
      for (const [name, prop] of Object.entries(props)) visit(prop, `${path}.${name}`);
      for (const [k, v] of Object.entries(node)) if (k !== 'properties') visit(v, `${path}.${k}`);
    };
    visit(schema, '#');
    expect(undescribed).toEqual([]);
  });
});

describe('the example contracts', () => {
  it.each(['assistant', 'room', 'telemetry', 'ingest'])('spec/%s.yaml loads and passes the shape check', (name) => {
    const path = `spec/${name}.yaml`;
    expect(readFileSync(`${REPO}${path}`, 'utf8').split('\n')[0]).toBe('# yaml-language-server: $schema=./streamspec.schema.json');
    const { root, diagnostics } = loadContract(path, { cwd: REPO });
    expect(diagnostics).toEqual([]);
    expect(checkShape(root!)).toEqual([]);
  });
});
