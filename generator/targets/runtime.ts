// Runtime modules (templates/runtime/*.ts) are copied verbatim into an output folder, under the
// generated-file header: one place decides how, for the plain output and the SDK alike.

import { readFileSync } from 'node:fs';
import type { Target } from './index.ts';

export function runtimeTargets(names: readonly string[], folder: string, tsHeader: string): Target[] {
  return names.map((name) => ({
    kind: 'text',
    path: `${folder}/${name}`,
    text: `${tsHeader}\n${readFileSync(new URL(`../../templates/runtime/${name}`, import.meta.url), 'utf8')}`,
    finish: 'none',
  }));
}
