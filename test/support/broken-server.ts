// A hand-written SSE server for spec/alerts.yaml with one deliberate fault at a time, for proving
// that the generated conformance suite fails a server that breaks its contract (issue 6). With no
// fault it keeps the contract, so the suite passing against it shows the checks are not just
// failing everything. It implements the conformance control endpoint honestly, by the definition
// in templates/runtime/conformance.ts, so the checks that need one can judge it.

import { randomBytes } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

export const FAULTS = [
  'omit-terminal',
  'skip',
  'duplicate',
  'reorder',
  'invalid',
  'skip-after-resume',
  'restart-on-resume',
  'ignore-backpressure',
  'never-stops',
  'wrong-content-type',
  'no-204-after-end',
  'accepts-unknown-resume',
  'silent',
  'drops',
  'accepts-invalid',
] as const;
export type Fault = (typeof FAULTS)[number];

interface Instance {
  readonly id: string;
  readonly total: number;
  /** The seq of the last frame produced (the terminal is total + 1). */
  last: number;
  ended: boolean;
  handler: 'running' | 'done';
  pulled: number;
  queued: number;
  maxQueued: number;
}

const CONTROL = '/.well-known/streamspec/conformance/instances/';
const ROUTE = /^\/v1\/fleets\/([^/]+)\/alerts$/;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface BrokenOptions {
  readonly count: number;
  /** Pause between messages (0: as fast as the socket takes them). */
  readonly intervalMs: number;
  /** Padding in each alert's text, to fill the transport's buffers sooner. */
  readonly textBytes?: number;
  /** A quiet stretch before message 2, heartbeats every `heartbeatMs` through it (none with fault `silent`). */
  readonly quietMs?: number;
  readonly heartbeatMs?: number;
}

/**
 * The params rule this server applies (stricter than spec/alerts.yaml, which takes any fleetId):
 * tests that judge `accepts-invalid` give the checks the same rule.
 */
export const FLEET_ID = /^[a-z]+$/;

/** `count` alert messages, then the terminal `resolved`, with `fault` (none: keeps the contract). */
export function brokenAlertsServer(fault: Fault | undefined, options: BrokenOptions): RequestListener {
  const instances = new Map<string, Instance>();
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname.startsWith(CONTROL)) return report(instances.get(decodeURIComponent(url.pathname.slice(CONTROL.length))), res);
    const route = ROUTE.exec(url.pathname);
    if (!route) return json(res, 404, { code: 'NOT_FOUND', message: 'no stream here' });
    if (fault !== 'accepts-invalid' && !FLEET_ID.test(decodeURIComponent(route[1]!)))
      return json(res, 400, { code: 'INVALID_REQUEST', message: 'params.fleetId: lower-case letters only' });
    const resume = req.headers['last-event-id'] ?? url.searchParams.get('lastEventId') ?? undefined;
    let inst: Instance;
    let from = 0;
    if (typeof resume === 'string') {
      const m = /^([\w-]{22})\.(\d+)$/.exec(resume);
      const known = m ? instances.get(m[1]!) : undefined;
      if ((!m || !known || +m[2]! > known.last) && fault !== 'accepts-unknown-resume') return json(res, 410, { code: 'RESUME_EXPIRED', message: 'no such position' });
      if (known?.ended && +m![2]! === known.last) {
        if (fault !== 'no-204-after-end') return void res.writeHead(204).end();
        return void res.writeHead(200, { 'content-type': 'text/event-stream' }).end('retry: 250\n\n');
      }
    }
    if (typeof resume === 'string' && instances.has(resume.slice(0, 22))) {
      inst = instances.get(resume.slice(0, 22))!;
      from = +resume.slice(23) + (fault === 'skip-after-resume' ? 1 : 0);
    } else {
      inst = { id: randomBytes(16).toString('base64url'), total: options.count, last: 0, ended: false, handler: 'running', pulled: 0, queued: 0, maxQueued: 0 };
      instances.set(inst.id, inst);
    }
    void serve(inst, from, fault, options, req, res);
  };
}

async function serve(inst: Instance, from: number, fault: Fault | undefined, options: BrokenOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { intervalMs } = options;
  const padding = ' '.repeat(options.textBytes ?? 0);
  res.writeHead(200, { 'content-type': fault === 'wrong-content-type' ? 'text/event-stream; charset=iso-8859-1' : 'text/event-stream', 'cache-control': 'no-store' });
  res.write('retry: 250\n\n');
  let gone = false;
  req.on('close', () => (gone = true));
  res.on('close', () => (gone = true));
  inst.handler = 'running';
  // The frames this connection sends, by seq, before faults: messages 1..total, then the terminal.
  const order: number[] = [];
  for (let seq = from + 1; seq <= inst.total + 1; seq++) order.push(seq);
  if (fault === 'skip') order.splice(order.indexOf(3), 1);
  if (fault === 'duplicate') order.splice(order.indexOf(3), 0, 3);
  if (fault === 'reorder') order.splice(order.indexOf(3), 2, 4, 3);
  if (fault === 'omit-terminal') order.pop();
  try {
    for (const seq of order) {
      // never-stops: the producer goes on after the consumer left (and says so at the control endpoint).
      if (gone && fault !== 'never-stops') break;
      if (intervalMs && seq > from + 1) await sleep(intervalMs);
      if (options.quietMs && seq === 2) await quiet(options.quietMs, fault === 'silent' ? undefined : options.heartbeatMs, res);
      if (fault === 'drops' && seq === 3) res.write('event: $dropped\ndata: {"count":2}\n\n');
      inst.pulled++;
      const terminal = seq === inst.total + 1;
      // Content depends on position, so a handler started over on resume shows: restart-on-resume
      // numbers on from the resume id but produces from message 1 again.
      const position = fault === 'restart-on-resume' ? seq - from : seq;
      const data = terminal ? null : fault === 'invalid' && seq === 3 ? { level: 'loud', text: 3 } : { level: 'warn', text: `alert ${position}${padding}` };
      const frame = `id: ${inst.id}.${seq}\nevent: ${terminal ? 'resolved' : 'alert'}\ndata: ${JSON.stringify(data)}\n\n`;
      if (gone) continue;
      // What the transport has not taken: written while it asked us to wait (see InstanceReport).
      if (res.writableNeedDrain) inst.maxQueued = Math.max(inst.maxQueued, ++inst.queued);
      const more = res.write(frame);
      inst.last = Math.max(inst.last, seq);
      if (terminal) inst.ended = true;
      if (!more && fault !== 'ignore-backpressure') {
        await new Promise<void>((r) => {
          res.once('drain', r);
          res.once('close', r);
        });
      }
      if (!res.writableNeedDrain) inst.queued = 0;
    }
  } finally {
    if (fault !== 'never-stops') inst.handler = 'done';
    res.end();
  }
}

/** A quiet producer: `: hb` comments every `heartbeatMs`, or nothing at all. */
async function quiet(ms: number, heartbeatMs: number | undefined, res: ServerResponse): Promise<void> {
  const timer = heartbeatMs ? setInterval(() => res.write(': hb\n\n'), heartbeatMs) : undefined;
  await sleep(ms);
  clearInterval(timer);
}

function report(inst: Instance | undefined, res: ServerResponse): void {
  if (!inst) return json(res, 404, { code: 'NOT_FOUND', message: 'no such instance' });
  json(res, 200, { stream: 'alerts', handler: inst.handler, pulled: inst.pulled, queued: inst.queued, maxQueued: inst.maxQueued });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
