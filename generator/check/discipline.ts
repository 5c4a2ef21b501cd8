// The streaming discipline (SS2xx) over a built IR. What the builder itself needs (a terminal
// message, retention, strategy parameters, usable names) it reports while building.

import { diagnostic, type Diagnostic } from '../diagnostics.ts';
import { formatDuration } from '../ir/duration.ts';
import type { Contract, Stream } from '../ir/types.ts';

export function checkDiscipline(contract: Contract): Diagnostic[] {
  const out: Diagnostic[] = [];
  const paths = new Map<string, Stream>();
  for (const s of contract.streams) {
    lossy(s, out);
    heartbeat(s, out);
    pathParams(s, out);
    shape(s, out);
    errorMessage(s, out);
    distinctEnd(s, out);
    bounds(s, out);
    const key = s.path.segments.map((g) => (g.kind === 'param' ? '{}' : g.text)).join('');
    const first = paths.get(key);
    if (first) {
      out.push(
        diagnostic(
          'SS214',
          s.path.pos,
          `stream "${s.name.wire}" has the same path as stream "${first.name.wire}" (${first.path.template}), so a request could not be routed. Give each stream its own path.`,
        ),
      );
    } else paths.set(key, s);
  }
  return out;
}

function lossy(s: Stream, out: Diagnostic[]): void {
  const k = s.backpressure.kind;
  if ((k === 'drop-oldest' || k === 'drop-newest' || k === 'sample') && !s.lossy) {
    out.push(
      diagnostic(
        'SS202',
        s.backpressure.pos,
        `stream "${s.name.wire}" uses backpressure strategy "${k}", which discards messages, but the stream is not marked lossy. Add lossy: true if consumers may miss messages, or use pull or block.`,
      ),
    );
  }
}

function heartbeat(s: Stream, out: Diagnostic[]): void {
  const { intervalMs, timeoutMs, pos } = s.heartbeat;
  const i = formatDuration(intervalMs);
  const t = formatDuration(timeoutMs);
  if (timeoutMs <= intervalMs) {
    out.push(
      diagnostic(
        'SS204',
        pos,
        `stream "${s.name.wire}" has heartbeat timeout ${t}, not longer than its interval ${i}, so a healthy connection would be taken for dead. Set timeout to at least ${formatDuration(intervalMs * 2)}.`,
      ),
    );
  } else if (timeoutMs < 2 * intervalMs) {
    out.push(
      diagnostic(
        'SS205',
        pos,
        `stream "${s.name.wire}" has heartbeat timeout ${t}, under twice its interval ${i}, so one late heartbeat forces a reconnect. Set timeout to at least ${formatDuration(intervalMs * 2)}.`,
      ),
    );
  }
}

function pathParams(s: Stream, out: Diagnostic[]): void {
  const inPath = s.path.segments.flatMap((g) => (g.kind === 'param' ? [g.name] : []));
  const declared = new Set(s.params.map((p) => p.name.wire));
  for (const name of inPath) {
    if (!declared.has(name)) {
      out.push(
        diagnostic(
          'SS207',
          s.path.pos,
          `path ${s.path.template} uses parameter "${name}", which stream "${s.name.wire}" does not declare. Add it under params (for example ${name}: { type: string }), or remove it from the path.`,
        ),
      );
    }
  }
  for (const p of s.params) {
    if (!inPath.includes(p.name.wire)) {
      out.push(
        diagnostic(
          'SS208',
          p.pos,
          `parameter "${p.name.wire}" is declared but path ${s.path.template} does not use it. Add {${p.name.wire}} to the path, or move it into the request.`,
        ),
      );
    }
  }
}

function shape(s: Stream, out: Diagnostic[]): void {
  const want = { 'server-to-client': 'server', 'client-to-server': 'client', bidirectional: 'both' } as const;
  const name = `stream "${s.name.wire}"`;
  if (s.producer !== want[s.direction]) {
    out.push(
      diagnostic('SS211', s.pos, `${name} is ${s.direction} but names producer ${s.producer}. Use producer: ${want[s.direction]}, or change the direction.`),
    );
  }
  if (s.direction === 'server-to-client' && s.clientMessages.length > 0) {
    out.push(
      diagnostic('SS211', s.clientMessages[0]!.pos, `${name} is server-to-client but declares clientMessages. Remove them, or make the stream bidirectional.`),
    );
  }
  if (s.direction !== 'server-to-client' && s.clientMessages.length === 0) {
    out.push(
      diagnostic('SS211', s.pos, `${name} is ${s.direction} but declares no clientMessages, so the client has nothing to send. Add clientMessages, or make the stream server-to-client.`),
    );
  }
  if (s.direction !== 'client-to-server' && s.messages.length === 0) {
    out.push(
      diagnostic('SS211', s.pos, `${name} is ${s.direction} but declares no messages, so the server has nothing to send but the end. Add messages, or make the stream client-to-server.`),
    );
  }
}

function errorMessage(s: Stream, out: Diagnostic[]): void {
  const e = s.errors;
  if (e.mode === 'in-band' && !e.message) {
    out.push(
      diagnostic(
        'SS212',
        e.pos,
        `stream "${s.name.wire}" has in-band errors but no error message name, so an error cannot travel as a message. Add message: problem (or another name) under errors.`,
      ),
    );
  }
  if (e.mode !== 'in-band' && e.message) {
    out.push(
      diagnostic(
        'SS212',
        e.pos,
        `stream "${s.name.wire}" names error message "${e.message.wire}" but its errors are ${e.mode}, which sends no error message. Remove errors.message, or use mode: in-band.`,
      ),
    );
  }
}

function distinctEnd(s: Stream, out: Diagnostic[]): void {
  const used = new Set(s.messages.map((m) => m.name.wire));
  const end = s.termination.message.wire;
  if (used.has(end)) {
    out.push(
      diagnostic(
        'SS213',
        s.termination.pos,
        `termination message "${end}" of stream "${s.name.wire}" is also one of its messages, so the end could not be told from data. Give the terminal message its own name.`,
      ),
    );
  }
  const err = s.errors.message?.wire;
  if (err !== undefined && (used.has(err) || err === end)) {
    out.push(
      diagnostic(
        'SS213',
        s.errors.pos,
        `error message "${err}" of stream "${s.name.wire}" is also a message or the terminal message. Give the error message its own name.`,
      ),
    );
  }
}

function bounds(s: Stream, out: Diagnostic[]): void {
  const b = s.backpressure;
  if (b.kind === 'credit' && b.credits > b.buffer) {
    out.push(
      diagnostic(
        'SS215',
        b.pos,
        `stream "${s.name.wire}" grants ${b.credits} credits but buffers at most ${b.buffer} messages, so granted messages could not be held. Set credits to at most buffer.`,
      ),
    );
  }
}
