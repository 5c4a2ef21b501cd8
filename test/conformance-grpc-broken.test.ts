// Issue 6 for the gRPC transport: the generated conformance checks for the `quotes` rpc of
// test/fixtures/grpc/market.yaml pass against a hand-written gRPC server that keeps the contract
// and fail, on the check that names the fault, against the same server broken one way at a time.
// The checks are imported from the fixture's own generated output, as a user's suite runs them.

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type * as Conformance from '../templates/runtime/conformance.ts';
import { generate } from '../generator/generate.ts';
import { startBrokenGrpcServer, type BrokenGrpcOptions, type GrpcFault } from './support/broken-grpc-server.ts';
import { removeWorkDirs, ROOT, workDir } from './support/tools.ts';
import { judge as judgeChecks } from './support/conformance.ts';

let generated: string;
let conformance: typeof Conformance;
let quotes: Conformance.ConformanceStream;
let fixture: Conformance.Fixture;

beforeAll(async () => {
  generated = join(workDir('conformance-grpc-broken'), 'out');
  const r = await generate({ spec: 'test/fixtures/grpc/market.yaml', out: generated, cwd: ROOT });
  expect(r.ok).toBe(true);
  conformance = (await import(pathToFileURL(join(generated, 'runtime/conformance.ts')).href)) as typeof Conformance;
  const streams = (await import(pathToFileURL(join(generated, 'conformance/streams.ts')).href)) as {
    quotesConformance: Conformance.ConformanceStream;
    fixtures: Record<string, Conformance.Fixture>;
  };
  quotes = streams.quotesConformance;
  fixture = streams.fixtures['quotes']!;
});

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});
afterAll(removeWorkDirs);

type Options = Omit<BrokenGrpcOptions, 'generated'>;

async function serve(fault: GrpcFault | undefined, options: Options): Promise<string> {
  const s = await startBrokenGrpcServer(fault, { ...options, generated });
  closers.push(() => s.close());
  return s.base;
}

/** Runs the checks (all, or those named); what failed, by check name, and what was skipped. */
const judge = (baseUrl: string, only?: readonly string[]) => judgeChecks(conformance.conformanceChecks(quotes, fixture), baseUrl, only);

const quick: Options = { count: 20, intervalMs: 0 };
/** A quiet stretch of six heartbeat intervals (the contract's is 200 ms) before message 2. */
const quietly: Options = { count: 4, intervalMs: 0, quietMs: 1_200 };
/** A stream still running when a consumer slows down or leaves: paced, or too big for HTTP/2's windows. */
const paced: Options = { count: 60, intervalMs: 20 };
const big: Options = { count: 2_000, intervalMs: 0, noteBytes: 10_000 };

describe('broken gRPC servers fail the checks on the check that names their fault', () => {
  it('a server that keeps the contract passes every check', async () => {
    const { failed, skipped } = await judge(await serve(undefined, quick));
    expect(Object.fromEntries(failed)).toEqual({});
    // A stream of 20 quick messages has no quiet stretch, and its handler is done before a consumer can slow down or leave.
    expect([...skipped.keys()].sort()).toEqual(['abandoned-consumer', 'heartbeat', 'slow-consumer']);
  });

  it('the heartbeat check passes against a quiet server that keeps the contract, and is not skipped', async () => {
    const { failed, skipped } = await judge(await serve(undefined, quietly), ['heartbeat']);
    expect(Object.fromEntries(failed)).toEqual({});
    expect(skipped.size).toBe(0);
  });

  it.each<[string, Options]>([
    ['paced', paced],
    ['too big for the windows', big],
  ])('the control-endpoint checks pass against a %s server that keeps the contract, and are not skipped', async (_, options) => {
    const { failed, skipped } = await judge(await serve(undefined, options), ['slow-consumer', 'abandoned-consumer']);
    expect(Object.fromEntries(failed)).toEqual({});
    expect(Object.fromEntries(skipped)).toEqual({});
  });

  // The long and the quiet streams are judged only on their own check.
  it.each<[GrpcFault, string, RegExp, Options?]>([
    ['omit-terminal', 'termination', /^stream quotes: the call ended with status OK after 20 messages without the terminal message end \(silence is not termination\)$/],
    ['skip', 'sequence', /^stream quotes: message 3 has seq 4, expected 3 \(gap\)$/],
    ['duplicate', 'sequence', /^stream quotes: message 4 has seq 3, expected 4 \(duplicate\)$/],
    ['reorder', 'sequence', /^stream quotes: message 3 has seq 4, expected 3 \(out of order\)$/],
    ['invalid', 'schema', /^stream quotes: message 3 \(quote, seq 3\) breaks the contract: data\.side /],
    ['skip-after-resume', 'resume', /^stream quotes: after resuming from message 2, message 1 has seq 4, expected 3 \(gap\)$/],
    [
      'restart-on-resume',
      'resume',
      /^stream quotes: after resuming from message 2, message 1 \(seq 3\) is quote \{"price":100\.25,"side":"buy","at":1700000000001,"venues":\[\]\}, but seq 3 was quote \{"price":100\.75,"side":"buy","at":1700000000003,"venues":\[\]\} \(the resume did not continue where the stream was\)$/,
    ],
    ['ignore-backpressure', 'slow-consumer', /^stream quotes: the server held 2001 messages the transport had not taken for a slow consumer; the contract's buffer is 8 \(backpressure ignored\)$/, big],
    ['never-stops', 'abandoned-consumer', /^stream quotes: the handler still runs 1\.5 s after the consumer left \(it has produced \d+ values\)$/, paced],
    ['no-stream-id', 'framing', /^stream quotes: malformed frame: message 1 arrived without a streamspec-stream-id response header \(a client cannot resume\)$/],
    ['error-after-terminal', 'termination', /^stream quotes: after the terminal message end the call ended with status INTERNAL \(INTERNAL: a failure after the end\), expected OK$/],
    [
      'not-ok-after-end',
      'resume-after-end',
      /^stream quotes: a resume from the terminal message's id [\w-]{22}\.21 ended with status OUT_OF_RANGE \(RESUME_EXPIRED: the stream has ended\), expected OK with no messages \(so clients stop reconnecting\)$/,
    ],
    [
      'accepts-unknown-resume',
      'resume-expired',
      /^stream quotes: a resume from an id the server never issued \([\w-]{22}\.1\) ended with status OK after 21 messages, expected OUT_OF_RANGE \(RESUME_EXPIRED\) \(a silent gap otherwise\)$/,
    ],
    ['silent', 'heartbeat', /^stream quotes: the connection was silent for 1\d{3} ms from \d+ ms on; the heartbeat interval is 200 ms$/, quietly],
    ['accepts-invalid', 'invalid-request', /^stream quotes: a request with params\.symbol = "!" ended with status OK after 21 messages, expected INVALID_ARGUMENT \(INVALID_REQUEST\)$/],
  ])('%s fails %s', async (fault, check, message, options = quick) => {
    const { failed } = await judge(await serve(fault, options), options === quick ? undefined : [check]);
    expect(failed.get(check), [...failed].join('\n')).toMatch(message);
  });
});
