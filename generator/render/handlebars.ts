// The Handlebars set-up, after hey-api's old one: an isolated instance, strict lookups, only
// known helpers, no HTML escaping, no partial re-indenting. Templates hold skeletons; every
// decision is made in generator/targets/ before a context reaches them.

import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import Handlebars from 'handlebars';
import {
  jsDoc,
  lineComment,
  protoComment,
  protoIdent,
  protoString,
  tsIdent,
  tsPropKey,
  tsString,
} from './escape.ts';

type Hb = typeof Handlebars;

export interface Renderer {
  /** Renders `template` (a path under templatesDir, e.g. `proto/file.proto.hbs`) with `context`. */
  render(template: string, context: unknown): string;
}

/** The escaping helpers, under their own names; the only helpers templates may call. */
const ESCAPERS = {
  tsString,
  tsIdent,
  tsPropKey,
  jsDoc,
  lineComment,
  protoIdent,
  protoComment,
  protoString,
} as const satisfies Record<string, (text: string) => string>;

const COMPILE_OPTIONS = {
  strict: true,
  knownHelpersOnly: true,
  noEscape: true,
  preventIndent: true,
  knownHelpers: {
    ...Object.fromEntries(Object.keys(ESCAPERS).map((name) => [name, true])),
    // Templates use `if`/`unless` and `each` only; marking the other built-ins unknown makes
    // their use a compile error instead of a place for logic to creep in.
    with: false,
    lookup: false,
    log: false,
  },
} satisfies CompileOptions;

type CompileOptions = Parameters<Hb['compile']>[1] & {};

interface HelperOptions {
  readonly loc?: { readonly start: { readonly line: number; readonly column: number } };
}

/** A failure while rendering: the chain of templates and partials it happened in, outermost first. */
export class TemplateError extends Error {
  constructor(
    readonly templates: readonly string[],
    readonly detail: string,
    options?: ErrorOptions,
  ) {
    super(`${templates.join(' > ')}: ${detail}`, options);
    this.name = 'TemplateError';
  }
}

function withTemplate(name: string, err: unknown): TemplateError {
  if (err instanceof TemplateError) return new TemplateError([name, ...err.templates], err.detail, { cause: err.cause });
  return new TemplateError([name], err instanceof Error ? err.message : String(err), { cause: err });
}

/**
 * Every helper, registered here and nowhere else. Handlebars' strict mode checks `{{field}}`
 * but not helper arguments, so each helper also refuses anything but one string: a missing
 * field passed to `tsString` is a generator bug, never an empty string in the output.
 */
export function registerHelpers(hb: Hb): void {
  for (const [name, escape] of Object.entries(ESCAPERS)) {
    hb.registerHelper(name, (...args: unknown[]) => {
      const options = args.pop() as HelperOptions;
      const at = options.loc ? ` at ${options.loc.start.line}:${options.loc.start.column}` : '';
      if (args.length !== 1 || typeof args[0] !== 'string') {
        const got = args.length === 1 ? describe(args[0]) : `${args.length} arguments`;
        throw new Error(`helper ${name}${at} takes one string, got ${got}`);
      }
      return escape(args[0]);
    });
  }
  // `{{#each missing}}` would silently render nothing; an absent list is a bug, an empty one is not.
  const each = hb.helpers['each']!;
  hb.registerHelper('each', function (this: unknown, list: unknown, options: HelperOptions) {
    if (list === undefined || list === null) {
      const at = options.loc ? ` at ${options.loc.start.line}:${options.loc.start.column}` : '';
      throw new Error(`#each${at} over ${describe(list)}: the list is missing from the context`);
    }
    return each.call(this, list, options);
  });
}

function describe(value: unknown): string {
  if (value === undefined || value === null) return String(value);
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

/** Reads a template with `\n` line endings whatever the checkout did to it. */
function readTemplate(file: string): string {
  return readFileSync(file, 'utf8').replace(/\r\n?/g, '\n');
}

/** Every `templates/<dir>/partials/<name>.hbs`, as [`<dir>/<name>`, file]. Sorted, for stable errors. */
function findPartials(templatesDir: string): [string, string][] {
  const found: [string, string][] = [];
  // A hand walk: readdir's `recursive` with file types was unreliable in early Node 20 releases.
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && entry.name.endsWith('.hbs') && basename(dir) === 'partials') {
        const owner = relative(templatesDir, dirname(dir)).split(sep).join('/');
        found.push([`${owner ? `${owner}/` : ''}${entry.name.slice(0, -'.hbs'.length)}`, path]);
      }
    }
  };
  walk(templatesDir);
  return found.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export function createRenderer(templatesDir: string): Renderer {
  const hb = Handlebars.create();
  registerHelpers(hb);
  for (const [name, file] of findPartials(templatesDir)) {
    // Registered compiled, with the same options: a partial given as source would be compiled
    // by the runtime without strict mode.
    const compiled = hb.compile(readTemplate(file), COMPILE_OPTIONS);
    hb.registerPartial(name, ((context: unknown, options: unknown) => {
      try {
        return compiled(context, options as Handlebars.RuntimeOptions);
      } catch (err) {
        throw withTemplate(`partial ${name}`, err);
      }
    }) as Handlebars.Template);
  }

  const cache = new Map<string, Handlebars.TemplateDelegate>();
  return {
    render(template, context) {
      let compiled = cache.get(template);
      try {
        if (!compiled) {
          compiled = hb.compile(readTemplate(join(templatesDir, template)), COMPILE_OPTIONS);
          cache.set(template, compiled);
        }
        return compiled(context);
      } catch (err) {
        throw withTemplate(template, err);
      }
    },
  };
}
