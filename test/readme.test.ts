// The README is part of the product: its table of diagnostic codes must match the code table,
// and its quick start must name the commands CI runs.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CODES } from '../generator/diagnostics.ts';
import { ROOT } from './support/tools.ts';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

describe('README', () => {
  it('lists every diagnostic code with its severity, and no other', () => {
    const rows = [...readme.matchAll(/^\| (SS\d{3}) \| (error|warning) \|/gm)].map((m) => [m[1], m[2]]);
    expect(rows).toEqual(Object.entries(CODES).map(([code, info]) => [code, info.severity]));
  });

  it('quick start: the install-and-generate command and the test command CI runs', () => {
    expect(readme).toContain('npm ci && npx streamspec generate spec/*.yaml');
    expect(readme).toMatch(/^npm test /m);
    expect(readFileSync(join(ROOT, '.ci', 'run'), 'utf8')).toMatch(/^npm test$/m);
  });
});
