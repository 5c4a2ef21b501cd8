// `streamspec mock` as a user runs it: a real process, its first stdout line, a stream read with
// plain fetch (npm ws; buf curl and the generated Node client for grpc), and a clean exit on SIGTERM.

import { execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { generate } from '../generator/generate.ts';
import { cli, removeWorkDirs, ROOT, workDir } from './support/tools.ts';

describe('streamspec mock', () => {
  it('prints where it listens first, serves the contract, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'streamspec.js'), 'mock', 'spec/assistant.yaml', '--port', '0', '--count', '3', '--interval', '1'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
      const first = (await lines.next()).value as string;
      expect(first).toMatch(/^listening on http:\/\/127\.0\.0\.1:\d+$/);
      expect([(await lines.next()).value, (await lines.next()).value]).toEqual([
        'GET /v1/conversations/{conversationId}/completion (completion)',
        'GET /v1/conversations/{conversationId}/history (history)',
      ]);

      const base = first.slice('listening on '.length);
      const res = await fetch(`${base}/v1/conversations/7d444840-9dc0-11d1-b245-5ffdce74fad2/completion?prompt=hi`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const events = [...(await res.text()).matchAll(/^event: (.*)$/gm)].map((m) => m[1]);
      expect(events).toEqual(['token', 'usage', 'token', 'done']);

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(stderr).toBe('');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('serves a websocket contract: routes as WS, a stream through npm ws, exit 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'streamspec.js'), 'mock', 'spec/room.yaml', '--port', '0', '--count', '2', '--interval', '1'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
      const first = (await lines.next()).value as string;
      expect(first).toMatch(/^listening on http:\/\/127\.0\.0\.1:\d+$/);
      expect((await lines.next()).value).toBe('WS /v1/rooms/{roomId} (room)');
      const ws = new WebSocket(`${first.slice('listening on '.length).replace('http:', 'ws:')}/v1/rooms/lobby`, ['streamspec.v1']);
      const types: string[] = [];
      ws.on('message', (d) => types.push((JSON.parse(d.toString()) as { type: string }).type));
      ws.on('open', () => ws.send(JSON.stringify({ type: '$open', request: {} })));
      const code = await new Promise<number>((resolve, reject) => {
        ws.on('close', resolve);
        setTimeout(() => reject(new Error('no close within 10 s')), 10_000);
      });
      expect(code).toBe(1000);
      expect(types.filter((t) => !t.startsWith('$'))).toEqual(['said', 'joined', 'closed']);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('serves a grpc contract on one port: buf curl over gRPC, Connect and gRPC-web, and the generated Node client', async () => {
    // The proto for buf curl and the Node client come from the contract's own generate run.
    const out = join(workDir('mock-grpc'), 'out');
    expect((await generate({ spec: 'test/fixtures/grpc/market.yaml', out, cwd: ROOT })).ok).toBe(true);
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'streamspec.js'), 'mock', 'test/fixtures/grpc/market.yaml', '--port', '0', '--count', '2', '--interval', '1'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
      const first = (await lines.next()).value as string;
      expect(first).toMatch(/^listening on http:\/\/127\.0\.0\.1:\d+$/);
      expect([(await lines.next()).value, (await lines.next()).value, (await lines.next()).value]).toEqual([
        'RPC /market.v1.MarketService/Quotes (quotes)',
        'RPC /market.v1.MarketService/Orders (orders)',
        'RPC /market.v1.MarketService/Desk (desk)',
      ]);
      const base = first.slice('listening on '.length);
      const curl = (protocol: string, rpc: string, body: string) =>
        new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
          execFile(
            join(ROOT, 'node_modules/.bin/buf'),
            ['curl', '--protocol', protocol, ...(protocol === 'grpc' ? ['--http2-prior-knowledge'] : []), '--schema', join(out, 'proto'), '-d', body, `${base}/market.v1.MarketService/${rpc}`],
            { timeout: 30_000 },
            (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
          ),
        );
      const events = (text: string) => [...text.matchAll(/^ {2}"(\w+)": [{"]/gm)].map((m) => m[1]).filter((k) => k !== 'seq');
      for (const protocol of ['grpc', 'connect', 'grpcweb']) {
        const r = await curl(protocol, 'Quotes', '{"symbol":"ABC","count":1}');
        expect(r.stderr, protocol).toBe('');
        expect(events(r.stdout), protocol).toEqual(['quote', 'note', 'end']);
      }
      // Client-streaming: a client message that breaks the contract ends the call with INVALID_ARGUMENT.
      const bad = await curl('grpc', 'Orders', '{"open":{"trader":"t"}} {"order":{"id":"a","side":"SIDE_BUY","quantity":"0"}}');
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toContain('"code": "invalid_argument"');

      const { createClient } = (await import(join(out, 'client.ts'))) as { createClient(o: { baseUrl: string }): Record<string, (a: object) => AsyncIterable<{ type: string }> & { send(m: object): Promise<void>; close(): void }> };
      const call = createClient({ baseUrl: base }).orders!({ params: {}, request: { trader: 't' } });
      await call.send({ type: 'order', data: { id: 'a', side: 'buy', quantity: 1 } });
      call.close();
      const types: string[] = [];
      for await (const m of call) types.push(m.type);
      expect(types).toEqual(['receipt']);

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(stderr).toBe('');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it.each([
    [['mock', 'spec/assistant.yaml', '--transport', 'pigeon'], 'pigeon'],
    [['mock', 'spec/assistant.yaml', '--port', '70000'], '--port "70000" is not a whole number from 0 to 65535.'],
    [['mock'], 'name exactly one contract'],
    [['generate', 'spec/assistant.yaml', '--port', '1'], "Unknown option '--port'"],
  ] as const)('%j is a usage error: exit 2', (args, text) => {
    const r = cli(args, ROOT);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(text);
    expect(r.stdout).toBe('');
  });

  it('--help says how', () => {
    const r = cli(['mock', '--help'], ROOT);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: streamspec mock <spec> \[--transport sse\|ndjson\|websocket\|grpc\] \[--port P\] \[--count N\] \[--interval MS\] \[--conformance-control\]/);
  });
});

afterAll(() => removeWorkDirs());
