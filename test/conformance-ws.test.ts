// Issue 6 for the WebSocket transport: the generated conformance suite for spec/room.yaml passes
// against the example room server and against `streamspec mock`, and fails, on the check that
// names the fault, against WebSocket servers that break the contract.
//
// As in test/conformance.test.ts, the suite itself runs as generated (a vitest child pointed at
// a server by STREAMSPEC_BASE_URL); the broken servers are judged in-process by the same checks,
// imported from the committed generated/room/ output.

import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createHandlers, demoAuthenticate, type RoomUser } from '../examples/room/handlers.ts';
import { fixtures, roomConformance } from '../generated/room/conformance/streams.ts';
import { conformanceChecks, fixtureFor, type ConformanceStream, type Fixture } from '../generated/room/runtime/conformance.ts';
import { createRouter, type AuthRequest } from '../generated/room/server.ts';
import { startMock } from '../generator/mock.ts';
import { startBrokenWsServer, type BrokenWsOptions, type WsFault } from './support/broken-ws-server.ts';
import { removeWorkDirs, ROOT, workDir } from './support/tools.ts';
import { judge as judgeChecks, runSuites } from './support/conformance.ts';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});
afterAll(removeWorkDirs);

/** The example room server (generated server + examples/room handlers) on 127.0.0.1. */
async function exampleRoom(
  options: { conformanceControl?: boolean; backlog?: number; delayMs?: number; authenticate?: (req: AuthRequest) => RoomUser | undefined } = {},
): Promise<string> {
  const router = createRouter(createHandlers({ backlog: options.backlog ?? 0, delayMs: options.delayMs ?? 0 }), {
    authenticate: options.authenticate ?? demoAuthenticate,
    conformanceControl: options.conformanceControl ?? false,
    onError: () => {},
  });
  const server = createServer((_, res) => res.writeHead(426).end());
  router.upgrade(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(async () => {
    router.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The room checks (or `stream`'s), all or those named, against `baseUrl`. */
const judge = (baseUrl: string, only?: readonly string[], stream: ConformanceStream = roomConformance, fixture: Fixture = fixtures['room']!) =>
  judgeChecks(conformanceChecks(stream, fixture), baseUrl, only);

describe('the generated room suite', () => {
  const runSuite = (baseUrl: string) => runSuites('room', join(ROOT, 'generated', 'room'), baseUrl);

  it('passes against the example room server, the control endpoint included', async () => {
    const { status, out } = await runSuite(await exampleRoom({ conformanceControl: true }));
    expect(status, out).toBe(0);
    expect(out, out).toMatch(/Test Files\s+1 passed/);
    for (const title of [
      'frames and subprotocol follow the transport',
      'sequence numbers go up by exactly one',
      'exactly one terminal message',
      'a resume after the end is closed 1000 with no messages',
      'a resume from a mid-stream id yields the rest exactly once',
      'a resume from an unknown id is RESUME_EXPIRED',
      'an invalid request is closed 4400 before the stream starts',
      "the server sends no more than the consumer's credit",
      'the handler stops when the consumer goes away',
    ])
      expect(out, title).toMatch(new RegExp(`✓ .*${title.replace(/[()]/g, '\\$&')}`));
  });

  it('passes against streamspec mock --conformance-control', async () => {
    const mock = await startMock({ spec: 'spec/room.yaml', cwd: ROOT, count: 40, interval: 5, conformanceControl: true, onError: () => {} });
    closers.push(() => mock.close());
    const { status, out } = await runSuite(mock.url);
    expect(status, out).toBe(0);
    expect(out, out).toMatch(/✓ .*the handler stops when the consumer goes away/);
    expect(out, out).toMatch(/✓ .*the server sends no more than the consumer's credit/);
  });

  it('without the control endpoint the abandoned-consumer check is skipped and says why (heartbeat: the stream is shorter than an interval)', async () => {
    const { failed, skipped } = await judge(await exampleRoom());
    expect(Object.fromEntries(failed)).toEqual({});
    expect([...skipped.keys()].sort()).toEqual(['abandoned-consumer', 'heartbeat']);
    expect(skipped.get('abandoned-consumer')).toMatch(/^the server has no conformance control endpoint/);
  });
});

describe('fixtures', () => {
  it('default to one example of each client message; STREAMSPEC_FIXTURES replaces messages as it does request', () => {
    expect(fixtures['room']!.messages?.map((m) => (m as { type: string }).type)).toEqual(['say', 'startTyping']);
    const file = join(workDir('conformance-fixtures'), 'fixtures.json');
    const mine = [{ type: 'say', data: { text: 'hello' } }];
    writeFileSync(file, JSON.stringify({ room: { params: { roomId: 'lobby' }, messages: mine } }));
    expect(fixtureFor(roomConformance, fixtures, file)).toEqual({ params: { roomId: 'lobby' }, request: fixtures['room']!.request, messages: mine });
  });

  it('take params and headers for every stream from a "*" entry, the stream\'s own entry over it', () => {
    const file = join(workDir('conformance-fixtures'), 'all.json');
    writeFileSync(
      file,
      JSON.stringify({ '*': { params: { roomId: 'all' }, headers: { authorization: 'Bearer all', 'x-tenant': 'a' } }, room: { headers: { authorization: 'Bearer room' } } }),
    );
    const f = fixtureFor(roomConformance, fixtures, file);
    expect(f.params).toEqual({ roomId: 'all' });
    expect(f.headers).toEqual({ authorization: 'Bearer room', 'x-tenant': 'a' });
    expect(f.messages).toEqual(fixtures['room']!.messages);
  });

  it("send their headers in the open frame: a server that requires credentials streams to the checks", async () => {
    const base = await exampleRoom({
      backlog: 3,
      // Only Bearer t: without it the open frame is refused (4401), so a pass proves the headers went.
      authenticate: (req) => (req.headers.get('authorization') === 'Bearer t' ? { id: 't' } : undefined),
    });
    const [framing] = conformanceChecks(roomConformance, { ...fixtures['room']!, headers: { authorization: 'Bearer t' } });
    expect(await framing!.run({ baseUrl: base })).toEqual({ ok: true });
    const [refused] = conformanceChecks(roomConformance, fixtures['room']!);
    await expect(refused!.run({ baseUrl: base })).rejects.toThrow(/^stream room: closed 4401 .* instead of streaming \(check the fixture's params, request, messages and headers\)$/);
  });
});

describe('broken WebSocket servers fail the suite on the check that names their fault', () => {
  const quick: BrokenWsOptions = { count: 20, intervalMs: 0 };
  const serve = async (fault: WsFault | undefined, options: BrokenWsOptions) => {
    const s = await startBrokenWsServer(fault, options);
    closers.push(() => s.close());
    return s.base;
  };

  it('a server that keeps the contract passes every check', async () => {
    const { failed, skipped } = await judge(await serve(undefined, quick));
    expect(Object.fromEntries(failed)).toEqual({});
    expect(skipped.has('slow-consumer')).toBe(false);
  });

  // The slow stream (never-stops) is judged only on its check: reading it whole for every other
  // check would take long and prove nothing more.
  it.each<[WsFault, string, RegExp, BrokenWsOptions?]>([
    ['omit-terminal', 'termination', /^stream room: the connection closed 1000 stream ended after 20 messages without the terminal message closed \(silence is not termination\)$/],
    ['skip', 'sequence', /^stream room: message 3 has seq 4, expected 3 \(gap\)$/],
    ['duplicate', 'sequence', /^stream room: message 4 has seq 3, expected 4 \(duplicate\)$/],
    ['ignore-credit', 'slow-consumer', /^stream room: the server sent 21 messages to a consumer that granted 2 credits and no more \(credit ignored\)$/],
    ['close-code', 'termination', /^stream room: after the terminal message closed the connection closed 1001 stream ended, expected 1000$/],
    ['accept-invalid', 'invalid-request', /^stream room: a request with params\.roomId = "!" was answered with close 1000 stream ended and 21 messages, expected close 4400 INVALID_REQUEST$/],
    ['resume-gap', 'resume', /^stream room: after resuming from message 2, message 1 has seq 4, expected 3 \(gap\)$/],
    ['never-stops', 'abandoned-consumer', /^stream room: the handler still runs 1\.5 s after the consumer left/, { count: 60, intervalMs: 20 }],
  ])('%s fails %s', async (fault, check, message, options = quick) => {
    const { failed } = await judge(await serve(fault, options), options === quick ? undefined : [check]);
    expect(failed.get(check), [...failed].join('\n')).toMatch(message);
  });

  it('the abandoned-consumer check passes against a paced server that keeps the contract', async () => {
    const { failed, skipped } = await judge(await serve(undefined, { count: 60, intervalMs: 20 }), ['abandoned-consumer']);
    expect(Object.fromEntries(failed)).toEqual({});
    expect(skipped.size).toBe(0);
  });

  it('a client-to-server stream says which checks cannot apply', async () => {
    // The checks that look at server messages skip before opening anything, so no server is needed.
    const upload: ConformanceStream = { ...roomConformance, name: 'upload', direction: 'client-to-server' };
    const checks = conformanceChecks(upload, fixtures['room']!);
    for (const name of ['resume', 'loss', 'slow-consumer', 'abandoned-consumer']) {
      const r = await checks.find((c) => c.name === name)!.run({ baseUrl: 'http://127.0.0.1:9' });
      expect(r, name).toEqual({ skipped: expect.stringMatching(/^a client-to-server stream has no server messages before its terminal one/) });
    }
  });
});
