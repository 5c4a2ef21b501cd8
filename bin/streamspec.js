#!/usr/bin/env node
// Runs cli.ts from source through tsx, so `npx streamspec` needs no build step.
import { register } from 'tsx/esm/api';

register();
// A closed pipe (`streamspec check | head`) is the reader's choice, not an error worth a trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}
const { main } = await import('../cli.ts');
try {
  process.exitCode = await main(process.argv.slice(2), {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    cwd: process.cwd(),
  });
} catch (e) {
  // A user error never gets here: this is a bug in streamspec.
  process.stderr.write(`streamspec: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
  process.stderr.write('This is a bug in streamspec, not in your contract. Please report it with the contract that caused it.\n');
  if (process.env.STREAMSPEC_DEBUG) process.stderr.write(`${e instanceof Error ? e.stack : ''}\n`);
  process.exitCode = 70;
}
