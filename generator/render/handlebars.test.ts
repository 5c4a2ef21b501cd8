import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRenderer, TemplateError } from './handlebars.ts';

const root = mkdtempSync(join(tmpdir(), 'streamspec-hbs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
/** A fresh templates dir holding `files` (path -> source). */
function templates(files: Record<string, string>): string {
  const dir = join(root, String(n++));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

function renderOne(source: string, context: unknown, partials: Record<string, string> = {}): string {
  return createRenderer(templates({ 'ts/t.hbs': source, ...partials })).render('ts/t.hbs', context);
}

describe('createRenderer', () => {
  it.each([
    ['plain field', { given: ['{{a}}!', { a: 'x' }], want: 'x!' }],
    ['no HTML escaping', { given: ['{{a}}', { a: `<a href="x">&'\`` }], want: `<a href="x">&'\`` }],
    ['no HTML escaping in triple-stash either', { given: ['{{{a}}}', { a: '<&>' }], want: '<&>' }],
    ['each over an empty list', { given: ['[{{#each xs}}{{.}}{{/each}}]', { xs: [] }], want: '[]' }],
    ['if on an absent optional field', { given: ['{{#if d}}D{{else}}none{{/if}}', {}], want: 'none' }],
    ['unless with @last', { given: ['{{#each xs}}{{.}}{{#unless @last}}, {{/unless}}{{/each}}', { xs: [1, 2, 3] }], want: '1, 2, 3' }],
    ['tsString escapes', { given: ['const s = {{tsString s}};', { s: 'a"b\n`${x}`' }], want: 'const s = "a\\"b\\n`${x}`";' }],
    ['jsDoc escapes', { given: ['/** {{jsDoc d}} */', { d: 'end */ here' }], want: '/** end *\\/ here */' }],
    ['lineComment escapes', { given: ['// {{lineComment d}}', { d: 'a\nb' }], want: '// a\n// b' }],
    ['tsIdent makes reserved words safe', { given: ['let {{tsIdent n}};', { n: 'class' }], want: 'let class$;' }],
    ['tsPropKey quotes', { given: ['{ {{tsPropKey k}}: 1 }', { k: 'a-b' }], want: '{ "a-b": 1 }' }],
    ['protoIdent passes portable names', { given: ['message {{protoIdent n}} {}', { n: 'Token' }], want: 'message Token {}' }],
    ['protoComment escapes', { given: ['// {{protoComment d}}', { d: 'a\r\nb' }], want: '// a\n// b' }],
    ['protoString escapes', { given: ['json_name = {{protoString s}}', { s: 'é"' }], want: 'json_name = "\\303\\251\\""' }],
    ['CRLF templates render with LF', { given: ['a\r\n{{a}}\r\n', { a: 'b' }], want: 'a\nb\n' }],
  ] as const)('%s', (_name, { given: [source, context], want }) => {
    expect(renderOne(source, context)).toBe(want);
  });

  it.each([
    ['a missing field', { given: ['x\n{{nope}}', {}], want: 'ts/t.hbs: "nope" not defined in [object Object] - 2:2' }],
    ['a missing nested field', { given: ['{{a.b}}', { a: {} }], want: 'ts/t.hbs: "b" not defined in [object Object] - 1:2' }],
    ['a missing field inside each', { given: ['{{#each xs}}{{name}}{{/each}}', { xs: [{}] }], want: 'ts/t.hbs: "name" not defined in [object Object] - 1:14' }],
    ['a missing helper argument', { given: ['{{tsString nope}}', {}], want: 'ts/t.hbs: helper tsString at 1:0 takes one string, got undefined' }],
    ['a helper without argument', { given: ['{{jsDoc}}', {}], want: 'ts/t.hbs: helper jsDoc at 1:0 takes one string, got 0 arguments' }],
    ['a helper given a number', { given: ['{{tsString n}}', { n: 1 }], want: 'ts/t.hbs: helper tsString at 1:0 takes one string, got a number' }],
    ['each over a missing list', { given: ['{{#each xs}}x{{/each}}', {}], want: 'ts/t.hbs: #each at 1:0 over undefined: the list is missing from the context' }],
    ['an unknown helper', { given: ['{{upper a}}', { a: 'x' }], want: 'ts/t.hbs: You specified knownHelpersOnly, but used the unknown helper upper - 1:0' }],
    ['lookup is not allowed', { given: ['{{lookup a "b"}}', { a: { b: 1 } }], want: 'ts/t.hbs: You specified knownHelpersOnly, but used the unknown helper lookup - 1:0' }],
    ['with is not allowed', { given: ['{{#with a}}{{b}}{{/with}}', { a: { b: 1 } }], want: 'ts/t.hbs: You specified knownHelpersOnly, but used the unknown helper with - 1:0' }],
  ] as const)('throws naming the template on %s', (_name, { given: [source, context], want }) => {
    expect(() => renderOne(source, context)).toThrowError(new TemplateError(['ts/t.hbs'], want.slice('ts/t.hbs: '.length)));
    expect(() => renderOne(source, context)).toThrowError(want);
  });

  it('throws naming the template when the template file is missing', () => {
    const r = createRenderer(templates({ 'proto/other.hbs': '' }));
    expect(() => r.render('proto/nope.hbs', {})).toThrowError(/^proto\/nope\.hbs: ENOENT/);
  });

  it('registers partials as <dir>/<name>, nested dirs included', () => {
    const dir = templates({
      'proto/file.proto.hbs': '{{> proto/field}}|{{> server/sse/route}}|{{#each fs}}{{> proto/field}}{{/each}}',
      'proto/partials/field.hbs': '{{protoIdent name}}',
      'server/sse/partials/route.hbs': 'route {{name}}',
    });
    expect(createRenderer(dir).render('proto/file.proto.hbs', { name: 'A', fs: [{ name: 'B' }, { name: 'C' }] })).toBe(
      'A|route A|BC',
    );
  });

  it('names the template and the partial when a partial misses a field', () => {
    const dir = templates({
      'proto/file.proto.hbs': 'x\n{{> proto/outer}}',
      'proto/partials/outer.hbs': '{{> proto/inner}}',
      'proto/partials/inner.hbs': '{{missing}}',
    });
    expect(() => createRenderer(dir).render('proto/file.proto.hbs', {})).toThrowError(
      'proto/file.proto.hbs > partial proto/outer > partial proto/inner: "missing" not defined in [object Object] - 1:2',
    );
  });

  it('throws on an unknown partial', () => {
    expect(() => renderOne('{{> ts/nope}}', {})).toThrowError('ts/t.hbs: The partial ts/nope could not be found');
  });

  it('does not re-indent an indented partial (preventIndent)', () => {
    const out = renderOne('class A {\n  {{> ts/body}}\n}\n', {}, { 'ts/partials/body.hbs': 'a();\nb();' });
    // Without preventIndent Handlebars would prefix every partial line with the call's indent.
    expect(out).toBe('class A {\n  a();\nb();}\n');
  });

  it('caches compiled templates', () => {
    const dir = templates({ 'ts/t.hbs': 'one {{a}}' });
    const r = createRenderer(dir);
    expect(r.render('ts/t.hbs', { a: 1 })).toBe('one 1');
    writeFileSync(join(dir, 'ts/t.hbs'), 'two {{a}}');
    expect(r.render('ts/t.hbs', { a: 2 })).toBe('one 2');
    expect(createRenderer(dir).render('ts/t.hbs', { a: 2 })).toBe('two 2');
  });

  it('keeps instances isolated from the global Handlebars', async () => {
    const Handlebars = (await import('handlebars')).default;
    createRenderer(templates({ 'ts/partials/p.hbs': 'p' }));
    expect(Handlebars.helpers['tsString']).toBeUndefined();
    expect(Handlebars.partials['ts/p']).toBeUndefined();
  });
});
