// Loads a contract and every file its `$ref`s pull in, keeping a line:col for every node so each
// later check can point at the exact key or value it complains about.

import { readFileSync } from 'node:fs';
import { isAbsolute, posix, resolve } from 'node:path';
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { diagnostic, type Diagnostic } from '../diagnostics.ts';
import type { SourcePos } from '../ir/types.ts';
import { didYouMean } from '../check/did-you-mean.ts';
import type { Pointer, RefTarget, YamlFile } from './types.ts';

export interface LoadResult {
  readonly root: YamlFile | undefined;
  /** Every file read, keyed by its `file` (the path as given, or relative to the same cwd). */
  readonly files: ReadonlyMap<string, YamlFile>;
  readonly diagnostics: Diagnostic[];
}

export interface LoadOptions {
  readFile?: (absPath: string) => string;
  cwd?: string;
}

// ---------------------------------------------------------------------------------------------
// One file

interface Located {
  readonly key: SourcePos | undefined;
  readonly value: SourcePos;
}

const pointerKey = (pointer: Pointer): string => JSON.stringify(pointer.map(String));

/** Parses one YAML text; `file` is only used to label positions. */
export function loadYamlText(file: string, text: string): { file: YamlFile | undefined; diagnostics: Diagnostic[] } {
  const lineCounter = new LineCounter();
  // uniqueKeys (the default) makes duplicate keys an error; prettyErrors off keeps the message bare.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number): SourcePos => ({ file, ...lineCounter.linePos(offset) });
  const diagnostics: Diagnostic[] = [];
  const linesWithError = new Set<number>();
  for (const error of doc.errors) {
    const pos = at(error.pos[0]);
    // The parser often reports one mistake several times on the same line; the first says it best.
    if (linesWithError.has(pos.line)) continue;
    linesWithError.add(pos.line);
    diagnostics.push(diagnostic('SS101', pos, syntaxMessage(error.code, error.message)));
  }
  if (diagnostics.length) return { file: undefined, diagnostics };

  const index = new Map<string, Located>();
  const rootPos: SourcePos = doc.contents?.range ? at(doc.contents.range[0]) : { file, line: 1, col: 1 };
  index.set(pointerKey([]), { key: undefined, value: rootPos });
  indexNode(doc, doc.contents, [], index, at, diagnostics, 0);
  if (diagnostics.length) return { file: undefined, diagnostics };

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    return {
      file: undefined,
      diagnostics: [diagnostic('SS101', rootPos, `${sentence((e as Error).message)} Simplify the aliases in this file.`)],
    };
  }

  const pos = (pointer: Pointer, where?: 'key' | 'value'): SourcePos => {
    for (let n = pointer.length; n >= 0; n--) {
      const hit = index.get(pointerKey(pointer.slice(0, n)));
      if (!hit) continue;
      if (n < pointer.length) return hit.key ?? hit.value; // an ancestor stands for the missing node
      return where === 'value' ? hit.value : (hit.key ?? hit.value);
    }
    return rootPos;
  };
  return { file: { file, text, value, pos }, diagnostics: [] };
}

function indexNode(
  doc: Document,
  node: Node | null | undefined,
  pointer: Pointer,
  index: Map<string, Located>,
  at: (offset: number) => SourcePos,
  diagnostics: Diagnostic[],
  depth: number,
): void {
  if (!node || depth > 200) return;
  if (isAlias(node)) {
    // Children of an alias are indexed at the anchored node's text: the data is the same.
    const target = node.resolve(doc);
    if (!target) {
      diagnostics.push(
        diagnostic(
          'SS101',
          at(node.range?.[0] ?? 0),
          `The alias *${node.source} names no anchor. Define &${node.source} before this point, or remove the alias.`,
        ),
      );
      return;
    }
    indexNode(doc, target, pointer, index, at, diagnostics, depth + 1);
    return;
  }
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const keyNode = pair.key as Node | null;
      const name = isScalar(keyNode) ? String(keyNode.value) : String(keyNode ?? '');
      const child = [...pointer, name];
      const keyPos = keyNode?.range ? at(keyNode.range[0]) : undefined;
      const valueNode = pair.value as Node | null;
      const valuePos =
        valueNode?.range && !(isScalar(valueNode) && valueNode.value === null && valueNode.range[0] === valueNode.range[1])
          ? at(valueNode.range[0])
          : (keyPos ?? at(node.range?.[0] ?? 0));
      index.set(pointerKey(child), { key: keyPos, value: valuePos });
      indexNode(doc, valueNode, child, index, at, diagnostics, depth + 1);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      const child = [...pointer, i];
      const itemNode = item as Node | null;
      const valuePos = itemNode?.range ? at(itemNode.range[0]) : at(node.range?.[0] ?? 0);
      index.set(pointerKey(child), { key: undefined, value: valuePos });
      indexNode(doc, itemNode, child, index, at, diagnostics, depth + 1);
    });
  }
}

// What to do about each kind of YAML error, by the yaml library's error code.
const SYNTAX_ADVICE: Record<string, string> = {
  DUPLICATE_KEY: 'Remove or rename one of the two keys; YAML keeps only one.',
  TAB_AS_INDENT: 'Indent with spaces; YAML does not allow tabs for indentation.',
  BAD_INDENT: 'Line it up with its siblings, or close the bracket it belongs to.',
  MISSING_CHAR: 'Add the missing character.',
  BLOCK_AS_IMPLICIT_KEY: 'Put the nested mapping on its own lines, indented under its key, or quote a value that contains ": ".',
  MULTILINE_IMPLICIT_KEY: 'Keep each key on one line, and indent a nested mapping under its key.',
  MULTIPLE_DOCS: 'Keep one document per contract file: remove the second "---" and what follows, or move it to its own file.',
  BAD_SCALAR_START: 'Quote the value.',
  UNEXPECTED_TOKEN: 'Check the indentation and the brackets around this point.',
  BAD_ALIAS: 'Define the anchor before the alias, or remove the alias.',
  BAD_DIRECTIVE: 'Remove the directive; contracts need none.',
  TAG_RESOLVE_FAILED: 'Remove the tag; contracts use plain YAML values.',
  ALIAS_PROPS: 'Remove the anchor or tag from the alias.',
  KEY_OVER_1024_CHARS: 'Shorten the key.',
};

function syntaxMessage(code: string, message: string): string {
  const what = sentence(message.replace(/; please use YAML\.parseAllDocuments\(\)/, ''));
  return `${what} ${SYNTAX_ADVICE[code] ?? 'Fix the YAML syntax here; an editor with YAML support shows where the structure breaks.'}`;
}

/** One sentence ending in a period: the first line, capitalised. */
function sentence(text: string): string {
  const line = (text.split('\n')[0] ?? '').trim().replace(/[.:]$/, '');
  return `${line.charAt(0).toUpperCase()}${line.slice(1)}.`;
}

// ---------------------------------------------------------------------------------------------
// A contract and the files it references

/**
 * Reads `path` and every file reachable through `$ref`, each once (cycles are fine), and reports
 * unreadable files (SS100), YAML errors (SS101) and `$ref`s that do not resolve (SS209).
 * Referenced files are named relative to the referencing file's name, so they stay relative to
 * the same cwd when the root was given relative, and absolute when it was given absolute.
 */
export function loadContract(path: string, opts: LoadOptions = {}): LoadResult {
  const cwd = opts.cwd ?? process.cwd();
  const read = opts.readFile ?? ((abs: string) => readFileSync(abs, 'utf8'));
  const files = new Map<string, YamlFile>();
  const failed = new Set<string>();
  const diagnostics: Diagnostic[] = [];

  /** Loads `name` once; `via` is where to report a read failure (else 1:1 of the file). */
  const load = (name: string, via: SourcePos | undefined, ref: string | undefined): YamlFile | undefined => {
    const known = files.get(name);
    if (known || failed.has(name)) return known;
    let text: string;
    try {
      text = read(resolve(cwd, name));
    } catch (e) {
      failed.add(name);
      const reason = readError(e);
      diagnostics.push(
        ref === undefined || via === undefined
          ? diagnostic(
              'SS100',
              { file: name, line: 1, col: 1 },
              `Cannot read ${name}: ${reason}. Check the path; it is relative to the current directory.`,
            )
          : diagnostic(
              'SS100',
              via,
              `$ref "${ref}" names ${name}, which cannot be read: ${reason}. Check the path; it is relative to the file that holds the $ref.`,
            ),
      );
      return undefined;
    }
    const parsed = loadYamlText(name, text);
    diagnostics.push(...parsed.diagnostics);
    if (!parsed.file) {
      failed.add(name);
      return undefined;
    }
    files.set(name, parsed.file);
    return parsed.file;
  };

  const root = load(displayName(path), undefined, undefined);
  const queue: YamlFile[] = root ? [root] : [];
  for (let next = queue.shift(); next; next = queue.shift()) {
    const from = next;
    for (const { pointer, ref } of collectRefs(from.value)) {
      const at = from.pos([...pointer, '$ref'], 'value');
      const parsed = parseRef(from, ref);
      if (parsed.kind === 'bad') {
        diagnostics.push(diagnostic('SS209', at, `$ref "${ref}" ${parsed.reason}`));
        continue;
      }
      const before = files.size;
      const target = load(parsed.file, at, ref);
      if (files.size > before && target) queue.push(target);
      if (!target) continue; // already reported as SS100 or SS101
      const missing = explainPointer(target, parsed.pointer, target !== from);
      if (missing) diagnostics.push(diagnostic('SS209', at, `$ref "${ref}" does not resolve: ${missing}`));
    }
  }
  return { root, files, diagnostics };
}

/** The target of `ref` as written in `from`, or undefined when its file is not loaded or the pointer misses. */
export function resolveRef(from: YamlFile, ref: string, files: ReadonlyMap<string, YamlFile>): RefTarget | undefined {
  const parsed = parseRef(from, ref);
  if (parsed.kind === 'bad') return undefined;
  const file = parsed.file === from.file ? from : files.get(parsed.file);
  if (!file) return undefined;
  const walked = walk(file.value, parsed.pointer);
  return walked.ok ? { file, pointer: walked.pointer, value: walked.value } : undefined;
}

function displayName(path: string): string {
  const slashed = path.replace(/\\/g, '/');
  return isAbsolute(path) || slashed.startsWith('/') ? posix.normalize(slashed) : posix.normalize(slashed).replace(/^\.\//, '');
}

function readError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return 'there is no such file';
  if (code === 'EISDIR') return 'it is a directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return (e as Error)?.message?.split('\n')[0]?.replace(/\.$/, '') ?? String(e);
}

type ParsedRef = { kind: 'ok'; file: string; pointer: string[] } | { kind: 'bad'; reason: string };

function parseRef(from: YamlFile, ref: string): ParsedRef {
  const hash = ref.indexOf('#');
  const filePart = hash < 0 ? ref : ref.slice(0, hash);
  const fragment = hash < 0 ? '' : ref.slice(hash + 1);
  if (/^[a-z][a-z0-9+.-]*:/i.test(filePart)) {
    return {
      kind: 'bad',
      reason:
        'is a URL, and streamspec reads only local files. Copy the schema into a file next to the contract and $ref it by relative path.',
    };
  }
  let file = from.file;
  if (filePart !== '') {
    const decoded = percentDecode(filePart);
    if (decoded === undefined)
      return { kind: 'bad', reason: 'has a malformed %-escape in its file part. Write the file name as it is, or escape "%" as %25.' };
    file = decoded.startsWith('/') ? posix.normalize(decoded) : posix.normalize(posix.join(posix.dirname(from.file), decoded));
  }
  if (fragment === '') return { kind: 'ok', file, pointer: [] };
  if (!fragment.startsWith('/')) {
    return {
      kind: 'bad',
      reason: `has "#${fragment}" after the "#", which is not a JSON Pointer. Write a path from the document root, such as "#/components/schemas/${fragment}".`,
    };
  }
  const pointer: string[] = [];
  for (const raw of fragment.slice(1).split('/')) {
    const decoded = percentDecode(raw);
    if (decoded === undefined) return { kind: 'bad', reason: 'has a malformed %-escape in its JSON Pointer. Escape "%" as %25.' };
    pointer.push(decoded.replace(/~1/g, '/').replace(/~0/g, '~'));
  }
  return { kind: 'ok', file, pointer };
}

function percentDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

type Walked = { ok: true; pointer: Pointer; value: unknown } | { ok: false; depth: number; parent: unknown };

function walk(value: unknown, pointer: readonly string[]): Walked {
  let here = value;
  const out: (string | number)[] = [];
  for (const [depth, seg] of pointer.entries()) {
    if (Array.isArray(here)) {
      const i = /^(0|[1-9][0-9]*)$/.test(seg) ? Number(seg) : -1;
      if (i < 0 || i >= here.length) return { ok: false, depth, parent: here };
      here = here[i];
      out.push(i);
    } else if (isObject(here) && Object.hasOwn(here, seg)) {
      here = here[seg];
      out.push(seg);
    } else {
      return { ok: false, depth, parent: here };
    }
  }
  return { ok: true, pointer: out, value: here };
}

// The noun for an entry of a well-known map, so a miss reads "there is no schema X".
const ENTRY_NOUN: Record<string, string> = {
  schemas: 'schema',
  properties: 'property',
  streams: 'stream',
  messages: 'message',
  clientMessages: 'client message',
  params: 'parameter',
  $defs: 'definition',
  definitions: 'definition',
};

/** Why `pointer` misses in `file`, as "what is missing. What to do.", or undefined when it resolves. */
function explainPointer(file: YamlFile, pointer: readonly string[], nameFile: boolean): string | undefined {
  const walked = walk(file.value, pointer);
  if (walked.ok) return undefined;
  const seg = pointer[walked.depth]!;
  const parentPath = pointer.slice(0, walked.depth);
  const inFile = nameFile ? ` of ${file.file}` : '';
  const where = parentPath.length ? dottedPath(parentPath) + inFile : nameFile ? file.file : 'the document';
  const parent = walked.parent;
  if (Array.isArray(parent)) {
    return `${where} has ${parent.length} item${parent.length === 1 ? '' : 's'}, so there is no item "${seg}". Point at an existing item, counting from 0.`;
  }
  if (!isObject(parent)) {
    return `${where} is not a mapping, so it has no "${seg}". Point at a mapping key instead.`;
  }
  const noun = ENTRY_NOUN[parentPath[parentPath.length - 1] ?? ''] ?? 'key';
  const guess = didYouMean(seg, Object.keys(parent));
  if (guess !== undefined) return `there is no ${noun} "${seg}" in ${where}. Did you mean "${guess}"?`;
  const add = parentPath.length ? `add "${seg}" to ${dottedPath(parentPath)}` : `add "${seg}" at the top level`;
  return `there is no ${noun} "${seg}" in ${where}. Fix the name in the $ref, or ${add}${nameFile ? ` in ${file.file}` : ''}.`;
}

/** A place in a document as people read it: `streams.completion.backpressure`, `codes[1]`, `properties["a.b"]`. */
export function dottedPath(path: Pointer): string {
  return path
    .map((seg, i) =>
      typeof seg === 'number' ? `[${seg}]` : /^[A-Za-z_$][\w$-]*$/.test(seg) ? (i ? `.${seg}` : seg) : `[${JSON.stringify(seg)}]`,
    )
    .join('');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// Keys whose values are data, not schemas: a `$ref` inside them is an example value. Under a map
// of names (`properties`, `schemas`...) the same words are just names and are walked.
const DATA_KEYS = new Set(['default', 'const', 'enum', 'examples', 'example']);
const NAME_MAPS = new Set(['properties', 'schemas', 'streams', 'messages', 'clientMessages', 'params', '$defs', 'definitions']);

/** Every `{ $ref: string }` in a document, with the pointer of the object that holds it. */
export function collectRefs(value: unknown): { pointer: Pointer; ref: string }[] {
  const out: { pointer: Pointer; ref: string }[] = [];
  const visit = (node: unknown, pointer: (string | number)[], parentKey: string | undefined): void => {
    if (Array.isArray(node)) {
      node.forEach((item, i) => visit(item, [...pointer, i], undefined));
      return;
    }
    if (!isObject(node)) return;
    if (typeof node.$ref === 'string') out.push({ pointer, ref: node.$ref });
    const namesHere = parentKey !== undefined && NAME_MAPS.has(parentKey);
    for (const [k, v] of Object.entries(node)) {
      // Extension values belong to other tools; their `$ref`s are not ours to resolve.
      if (!namesHere && (DATA_KEYS.has(k) || k.startsWith('x-'))) continue;
      visit(v, [...pointer, k], namesHere ? undefined : k);
    }
  };
  visit(value, [], undefined);
  return out;
}
