// The StreamSpec contract an AsyncAPI document maps onto, as a YAML file a team can adopt: the
// same data `generate` builds from, so the file lints clean and generates the same code.

import { stringify } from 'yaml';

export interface ConvertText {
  /** The format's JSON Schema, relative to where the file is written, for editor completion. */
  readonly schemaRef: string;
  /** The AsyncAPI file it came from, named in the header comment. */
  readonly source: string;
}

export function contractYaml(document: unknown, opts: ConvertText): string {
  // Long descriptions stay on one line each (lineWidth 0), so a diff shows what a person changed.
  const body = stringify(document, { lineWidth: 0, aliasDuplicateObjects: false });
  return `# yaml-language-server: $schema=${opts.schemaRef}
# Converted by streamspec convert from ${opts.source.replace(/[\r\n]/g, ' ')}.
${body}`;
}
