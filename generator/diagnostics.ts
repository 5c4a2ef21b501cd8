// Every diagnostic code, declared once. Checks return Diagnostic[] and never throw for user
// error; `format*` prints them. The README's table of codes is checked against this one.

import type { SourcePos } from './ir/types.ts';

export type Severity = 'error' | 'warning';

interface CodeInfo {
  readonly severity: Severity;
  /** One line for the README: what the code is about. */
  readonly title: string;
}

export const CODES = {
  // SS1xx: the shape of the document
  SS100: { severity: 'error', title: 'the file cannot be read' },
  SS101: { severity: 'error', title: 'YAML syntax error' },
  SS102: { severity: 'error', title: 'a required field is missing' },
  SS103: { severity: 'error', title: 'unknown field' },
  SS104: { severity: 'error', title: 'a value has the wrong type' },
  SS105: { severity: 'error', title: 'a value is not one of those allowed, or is malformed' },
  SS106: { severity: 'error', title: 'unsupported format version' },
  SS107: { severity: 'error', title: 'a JSON Schema keyword streamspec cannot carry' },
  SS108: { severity: 'error', title: 'a duration is malformed' },
  SS109: { severity: 'error', title: 'a name is not usable as an identifier' },
  SS110: { severity: 'error', title: 'config file problem (streamspec.yaml)' },
  SS111: { severity: 'warning', title: 'a config setting is accepted but not used yet' },
  // SS2xx: the streaming discipline
  SS201: { severity: 'error', title: 'a stream has no termination message' },
  SS202: { severity: 'error', title: 'a lossy backpressure strategy on a stream not marked lossy' },
  SS203: { severity: 'error', title: 'resume without bounded retention' },
  SS204: { severity: 'error', title: 'heartbeat timeout not longer than the interval' },
  SS205: { severity: 'warning', title: 'heartbeat timeout under twice the interval' },
  SS206: { severity: 'error', title: 'names collide after case conversion' },
  SS207: { severity: 'error', title: 'a path parameter is not declared' },
  SS208: { severity: 'error', title: 'a declared parameter is not used in the path' },
  SS209: { severity: 'error', title: 'an unresolved $ref' },
  SS210: { severity: 'error', title: 'a backpressure strategy lacks its parameter' },
  SS211: { severity: 'error', title: 'direction, producer and message lists disagree' },
  SS212: { severity: 'error', title: 'in-band errors without an error message name, or a name given for another mode' },
  SS213: { severity: 'error', title: 'a termination or error message name is also a message name' },
  SS214: { severity: 'error', title: 'two streams share a path' },
  SS215: { severity: 'error', title: 'more credits granted than the buffer holds' },
  // SS3xx: fit between contract and transport
  SS301: { severity: 'error', title: 'the transport cannot carry this direction' },
  SS302: { severity: 'error', title: 'credit backpressure on a one-way transport' },
  SS303: { severity: 'error', title: 'out-of-band errors on a transport with no out-of-band channel' },
  SS304: { severity: 'error', title: 'gRPC client or bidirectional streaming to a browser' },
  SS305: { severity: 'warning', title: 'WebSocket for a one-way stream' },
  SS306: { severity: 'warning', title: 'the resume strategy is not native to the transport' },
  // SS4xx: AsyncAPI input (what an AsyncAPI document cannot say, or says in a way streamspec cannot carry)
  SS401: { severity: 'error', title: 'the x-streamspec extension is malformed' },
  SS402: { severity: 'error', title: 'unsupported AsyncAPI version' },
  SS403: { severity: 'error', title: 'an AsyncAPI field has a shape the mapping cannot read' },
  SS404: { severity: 'error', title: 'the AsyncAPI document has no operation to make a stream of' },
  SS405: { severity: 'warning', title: 'an AsyncAPI channel with no operation is not a stream' },
  SS406: { severity: 'error', title: 'no consumer: x-streamspec.consumer is missing' },
  SS407: { severity: 'error', title: 'no backpressure: x-streamspec.backpressure is missing' },
  SS408: { severity: 'error', title: 'no termination: x-streamspec.termination is missing' },
  SS409: { severity: 'error', title: 'an AsyncAPI stream has no messages' },
  SS410: { severity: 'warning', title: 'a documented default was assumed (--assume-defaults)' },
  SS411: { severity: 'error', title: 'a payload schema format other than JSON Schema' },
  SS412: { severity: 'warning', title: 'message headers are not carried' },
  SS413: { severity: 'warning', title: 'no server speaks a streamspec transport; one was chosen' },
  SS414: { severity: 'error', title: 'x-streamspec values disagree for one stream' },
  SS415: { severity: 'error', title: 'two different messages share a name in one stream' },
  SS416: { severity: 'warning', title: 'the servers of a channel disagree on the base path' },
} as const satisfies Record<string, CodeInfo>;

export type Code = keyof typeof CODES;

export interface Diagnostic {
  readonly code: Code;
  readonly severity: Severity;
  /** What is wrong, then what to do instead; sentences ending in a period. */
  readonly message: string;
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

export function diagnostic(code: Code, pos: SourcePos, message: string): Diagnostic {
  return { code, severity: CODES[code].severity, message, file: pos.file, line: pos.line, col: pos.col };
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

/** Stable order: file, line, column, code. */
export function sortDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort(
    (a, b) => cmp(a.file, b.file) || a.line - b.line || a.col - b.col || cmp(a.code, b.code) || cmp(a.message, b.message),
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * `spec/x.yaml:12:7 error SS301 <message>` followed by the source line and a caret, as TypeSpec
 * and tsc print them. `sources` maps a file to its text; a file without text gets no excerpt.
 */
export function formatText(diagnostics: readonly Diagnostic[], sources: ReadonlyMap<string, string>): string {
  const out: string[] = [];
  for (const d of diagnostics) {
    out.push(`${d.file}:${d.line}:${d.col} ${d.severity} ${d.code} ${d.message}`);
    const text = sources.get(d.file);
    const line = text?.split(/\r?\n/)[d.line - 1];
    if (line !== undefined) {
      const gutter = `${d.line} | `;
      out.push(`  ${gutter}${line.replace(/\t/g, ' ')}`);
      out.push(`  ${' '.repeat(gutter.length)}${' '.repeat(Math.max(0, d.col - 1))}^`);
    }
  }
  return out.length ? out.join('\n') + '\n' : '';
}

export function formatJson(diagnostics: readonly Diagnostic[]): string {
  return (
    JSON.stringify(
      diagnostics.map(({ code, severity, message, file, line, col }) => ({ code, severity, message, file, line, col })),
      null,
      2,
    ) + '\n'
  );
}
