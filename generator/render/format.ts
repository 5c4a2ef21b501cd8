// Formatting of generated TS and JSON with prettier 3. The options are fixed here, never read
// from the user's prettier config, so the same spec gives the same bytes on every machine.

import { createHash } from 'node:crypto';
import type { Options, Plugin } from 'prettier';
import { format } from 'prettier/standalone';
import * as babel from 'prettier/plugins/babel';
import * as estree from 'prettier/plugins/estree';

const plugins = [babel, estree] as Plugin[];

const OPTIONS: Options = {
  printWidth: 100,
  tabWidth: 2,
  useTabs: false,
  semi: true,
  singleQuote: true,
  quoteProps: 'as-needed',
  trailingComma: 'all',
  bracketSpacing: true,
  arrowParens: 'always',
  endOfLine: 'lf',
  plugins,
};

async function run(text: string, filepath: string, parser: string): Promise<string> {
  try {
    return await format(text, { ...OPTIONS, parser });
  } catch (err) {
    // Generated text that does not parse is a generator bug; say which file and where.
    const detail = err instanceof Error ? err.message : String(err);
    throw new Error(`internal: cannot format generated ${filepath}: ${detail}`, { cause: err });
  }
}

/**
 * Formats TypeScript. Parsed with `babel-ts`, which prints the same as the `typescript` parser
 * on generated code and takes about half the time (about 1.7 s instead of 3.5 s for 1 MB).
 */
export function formatTs(text: string, filepath: string): Promise<string> {
  return run(text, filepath, 'babel-ts');
}

/** Formats JSON (two-space indent, `\n` line endings, one trailing newline). */
export function formatJson(text: string, filepath: string): Promise<string> {
  return run(text, filepath, 'json');
}

/**
 * The top-level pieces of generated TypeScript: split at a blank line followed by a line that
 * starts at column 0 with something that begins a statement or comment. Generated code never
 * has such a line inside a statement (continuations are indented or start with a closing
 * bracket or operator), so formatting the pieces one by one and joining them with a blank line
 * gives the same text as formatting the whole file; the tests check that on every example.
 * Formatting piece by piece keeps prettier's memory flat on large files and lets a later run
 * format only the pieces that changed.
 */
export function splitTopLevel(text: string): string[] {
  return text
    .split(/\n(?:[ \t]*\n)+(?=[^\s})\].,:?|&])/)
    .filter((piece) => piece.trim() !== '')
    .map((piece) => (piece.endsWith('\n') ? piece : `${piece}\n`));
}

/** The key a formatted piece is kept under: 16 hex digits of the sha256 of its unformatted text. */
export function pieceHash(piece: string): string {
  return createHash('sha256').update(piece).digest('hex').slice(0, 16);
}

export interface FormattedPieces {
  readonly text: string;
  /** `hash:length` of each formatted piece, comma separated, for the manifest. */
  readonly chunks: string;
}

/**
 * Formats generated TS piece by piece, taking a piece's formatted text from `known` (earlier
 * runs) when its unformatted text is unchanged. New pieces are added to `known`.
 */
export async function formatTsPieces(text: string, filepath: string, known: Map<string, string>): Promise<FormattedPieces> {
  const done: [string, string][] = [];
  for (const piece of splitTopLevel(text)) {
    const hash = pieceHash(piece);
    let formatted = known.get(hash);
    if (formatted === undefined) {
      formatted = await formatTs(piece, filepath);
      known.set(hash, formatted);
    }
    done.push([hash, formatted]);
  }
  return { text: done.map(([, f]) => f).join('\n'), chunks: done.map(([h, f]) => `${h}:${f.length}`).join(',') };
}
