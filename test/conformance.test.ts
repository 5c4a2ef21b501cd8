// Issue 6: the generated conformance suites pass against servers that keep their contract and
// fail, on the check that names the fault, against servers that break it.
//
// The suites themselves run as generated (a vitest child per contract, pointed at an example
// server by STREAMSPEC_BASE_URL); the broken servers are judged in-process by the same checks,
// imported from the committed generated/alerts/ output.

import { writeFileSync } from 'node:fs';
import type { RequestListener } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { router as alertsRouter } from '../examples/alerts/server.ts';
import { createHandlers as assistantHandlers } from '../examples/assistant/handlers.ts';
import { createHandlers as telemetryHandlers } from '../examples/telemetry/handlers.ts';
import { completionConformance, fixtures as assistantFixtures } from '../generated/assistant/conformance/streams.ts';
import { createRouter as assistantRouter, StreamError } from '../generated/assistant/server.ts';
import { alertsConformance, fixtures } from '../generated/alerts/conformance/streams.ts';
import { conformanceChecks, type ConformanceStream, type Fixture } from '../generated/alerts/runtime/conformance.ts';
import { createRouter as telemetryRouter } from '../generated/telemetry/server.ts';
import { startMock } from '../generator/mock.ts';
import { listen, type Listening } from './http-harness.ts';
import { brokenAlertsServer, FLEET_ID, type BrokenOptions, type Fault } from './support/broken-server.ts';
import { ROOT, workDir } from './support/tools.ts';
import { judge as judgeChecks, runSuites } from './support/conformance.ts';

const servers: Listening[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(listener: RequestListener): Promise<string> {
  const s = await listen(listener);
  servers.push(s);
  return s.base;
}

/** The checks of `stream` (default: alerts), all or those named, against `baseUrl`. */
const judge = (baseUrl: string, only?: readonly string[], stream: ConformanceStream = alertsConformance) => judgeChecks(conformanceChecks(stream, fixtures['alerts']!), baseUrl, only);

describe('generated suites against the example servers', () => {
  // One vitest child per contract: the generated files are not part of this project's test run
  // (they would skip there without STREAMSPEC_BASE_URL).
  const runSuite = (contract: string, baseUrl: string, tests?: { root: string; include: string }) =>
    runSuites(contract, tests?.root ?? join(ROOT, 'generated', contract), baseUrl, tests ? { include: tests.include } : {});

  it.each([
    ['alerts', async () => serve(alertsRouter.node), 1],
    ['assistant', async () => serve(assistantRouter(assistantHandlers(), { authenticate: () => ({ id: 'test' }) }).node), 2],
    ['telemetry', async () => serve(telemetryRouter(telemetryHandlers({ count: 12 })).node), 3],
  ] as const)('%s: every check passes or says why it is skipped', async (contract, start, streams) => {
    const { status, out } = await runSuite(contract, await start());
    expect(out, out).toMatch(new RegExp(`Test Files\\s+${streams} passed`));
    expect(status, out).toBe(0);
    // Real checks ran: at least the framing, sequence and termination of every stream.
    expect(out.match(/✓ .*sequence numbers go up by exactly one/g)?.length).toBe(streams);
    expect(out.match(/✓ .*exactly one terminal message/g)?.length).toBe(streams);
  });

  it("a user's own test file runs the suite against a server it starts in-process (conformanceSuite with a factory)", async () => {
    const dir = workDir('conformance-factory');
    writeFileSync(
      join(dir, 'alerts.test.ts'),
      [
        `import { createServer } from 'node:http';`,
        `import type { AddressInfo } from 'node:net';`,
        `import { router } from ${JSON.stringify(join(ROOT, 'examples/alerts/server.ts'))};`,
        `import { conformanceSuite } from ${JSON.stringify(join(ROOT, 'generated/alerts/conformance/suite.ts'))};`,
        `conformanceSuite({`,
        `  start: async () => {`,
        `    const server = createServer(router.node);`,
        `    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));`,
        `    return { baseUrl: \`http://127.0.0.1:\${(server.address() as AddressInfo).port}\`, close: () => new Promise<void>((r) => server.close(() => r())) };`,
        `  },`,
        `});`,
        ``,
      ].join('\n'),
    );
    // No STREAMSPEC_BASE_URL: the factory alone says where the server is.
    const { status, out } = await runSuite('alerts', '', { root: dir, include: 'alerts.test.ts' });
    expect(status, out).toBe(0);
    expect(out.match(/✓ .*sequence numbers go up by exactly one/g)?.length, out).toBe(1);
    expect(out.match(/✓ .*exactly one terminal message/g)?.length, out).toBe(1);
  });

  it('the suite runs against streamspec mock with no edits, control endpoint included', async () => {
    const mock = await startMock({ spec: 'spec/assistant.yaml', cwd: ROOT, count: 100, interval: 5, conformanceControl: true, onError: () => {} });
    try {
      const { status, out } = await runSuite('assistant', mock.url);
      expect(status, out).toBe(0);
      // With the control endpoint, the abandoned-consumer check runs for every stream instead of skipping.
      expect(out.match(/✓ .*the handler stops when the consumer goes away/g)?.length, out).toBe(2);
    } finally {
      await mock.close();
    }
  });
});

describe('a server that requires credentials', () => {
  // Bearer t, and nothing else: no header is anonymous (401), a wrong one is refused (401).
  const strict = () =>
    assistantRouter(assistantHandlers(), {
      authenticate: (req) => {
        const h = req.headers.get('authorization');
        if (h === null) return undefined;
        if (h !== 'Bearer t') throw new StreamError('UNAUTHENTICATED', 'unknown token');
        return { id: 't' };
      },
    });
  const checks = (fixture: Fixture) => conformanceChecks(completionConformance, fixture).filter((c) => ['framing', 'sequence', 'resume'].includes(c.name));

  it("is judged with the fixture's headers on every call, a resume included", async () => {
    const base = await serve(strict().node);
    for (const check of checks({ ...assistantFixtures['completion']!, headers: { authorization: 'Bearer t' } })) expect(await check.run({ baseUrl: base })).toEqual({ ok: true });
  });

  it('without them, every check fails saying what the server answered and what to check', async () => {
    const base = await serve(strict().node);
    for (const check of checks(assistantFixtures['completion']!))
      await expect(check.run({ baseUrl: base })).rejects.toThrow(/^stream completion: answered 401 UNAUTHENTICATED instead of streaming \(check the fixture's params, request and headers\)$/);
  });
});

describe('broken servers fail the suite on the check that names their fault', () => {
  const quick = { count: 20, intervalMs: 0 };
  it('a server that keeps the contract passes every check', async () => {
    const { failed } = await judge(await serve(brokenAlertsServer(undefined, quick)));
    expect(Object.fromEntries(failed)).toEqual({});
  });

  // The long streams (the last two) are judged only on their check: reading them whole for every
  // other check would take most of a minute and prove nothing more.
  // Two checks need a contract a little unlike spec/alerts.yaml to have something to judge: a short
  // heartbeat interval (so a quiet stretch is seconds, not minutes), and a params rule (alerts
  // takes any fleetId, so no request of it is invalid).
  const shortHeartbeat: ConformanceStream = { ...alertsConformance, heartbeatMs: 200 };
  const quietly = { count: 4, intervalMs: 0, quietMs: 1_200, heartbeatMs: 150 };
  const strictParams: ConformanceStream = {
    ...alertsConformance,
    validateParams: (p) => (FLEET_ID.test(String((p as { fleetId?: unknown }).fleetId)) ? [] : [{ path: 'params.fleetId', message: 'lower-case letters only' }]),
  };

  it.each<[Fault, string, RegExp, BrokenOptions?, ConformanceStream?]>([
    ['omit-terminal', 'termination', /^stream alerts: the response ended after 20 messages without the terminal message resolved/],
    ['skip', 'sequence', /^stream alerts: message 3 has seq 4, expected 3 \(gap\)$/],
    ['duplicate', 'sequence', /^stream alerts: message 4 has seq 3, expected 4 \(duplicate\)$/],
    ['reorder', 'sequence', /^stream alerts: message 3 has seq 4, expected 3 \(out of order\)$/],
    ['invalid', 'schema', /^stream alerts: message 3 \(alert, seq 3\) breaks the contract: data\.level .*; data\.text /],
    ['skip-after-resume', 'resume', /^stream alerts: after resuming from message 2, message 1 has seq 4, expected 3 \(gap\)$/],
    [
      'restart-on-resume',
      'resume',
      /^stream alerts: after resuming from message 2, message 1 \(seq 3\) is alert \{"level":"warn","text":"alert 1"\}, but seq 3 was alert \{"level":"warn","text":"alert 3"\} \(the resume did not continue where the stream was\)$/,
    ],
    ['ignore-backpressure', 'slow-consumer', /^stream alerts: the server held \d+ messages .* the contract's buffer is 32 \(backpressure ignored\)$/, { count: 20_000, intervalMs: 0, textBytes: 1000 }],
    ['never-stops', 'abandoned-consumer', /^stream alerts: the handler still runs 1\.5 s after the consumer left/, { count: 60, intervalMs: 20 }],
    ['wrong-content-type', 'framing', /^stream alerts: Content-Type is "text\/event-stream; charset=iso-8859-1", expected text\/event-stream$/],
    ['no-204-after-end', 'resume-after-end', /^stream alerts: a reconnect from the terminal message's id \S+ was answered 200, expected 204/],
    ['accepts-unknown-resume', 'resume-expired', /^stream alerts: a resume from an id the server never issued \(\S+\) was answered 200 \(no body\) with 21 messages, expected 410 RESUME_EXPIRED/],
    ['silent', 'heartbeat', /^stream alerts: the connection was silent for 1\d{3} ms from \d+ ms on; the heartbeat interval is 200 ms$/, quietly, shortHeartbeat],
    ['drops', 'loss', /^stream alerts: the server reported 2 dropped messages, but the stream is not lossy \(backpressure pull\)$/],
    ['accepts-invalid', 'invalid-request', /^stream alerts: a request with params\.fleetId = "!" was answered 200 with 21 messages, expected 400 INVALID_REQUEST$/, quick, strictParams],
  ])('%s fails %s', async (fault, check, message, options = quick, stream = alertsConformance) => {
    const { failed } = await judge(await serve(brokenAlertsServer(fault, options)), options === quick ? undefined : [check], stream);
    expect(failed.get(check), [...failed].join('\n')).toMatch(message);
  });

  it('the heartbeat and invalid-request checks pass against a server that keeps the contract, and are not skipped', async () => {
    for (const [options, stream, check] of [[quietly, shortHeartbeat, 'heartbeat'], [quick, strictParams, 'invalid-request']] as const) {
      const { failed, skipped } = await judge(await serve(brokenAlertsServer(undefined, options)), [check], stream);
      expect(Object.fromEntries(failed)).toEqual({});
      expect(skipped.has(check)).toBe(false);
    }
  });

  it('the checks that need the control endpoint pass against a server that keeps the contract', async () => {
    for (const options of [{ count: 20_000, intervalMs: 0, textBytes: 1000 }, { count: 60, intervalMs: 20 }]) {
      const { failed, skipped } = await judge(await serve(brokenAlertsServer(undefined, options)), ['slow-consumer', 'abandoned-consumer']);
      expect(Object.fromEntries(failed)).toEqual({});
      expect(skipped.has('slow-consumer') && skipped.has('abandoned-consumer')).toBe(false);
    }
  });
});
