// SSE over fetch (docs/http-streaming.md, "SSE framing"). Parsing is eventsource-parser's, which
// follows the WHATWG rules; this file only maps events to frames and drops a frame cut off at the end.

import { createParser } from 'eventsource-parser';
import { toFrame, type Source } from './client.js';
import { StreamProtocolError } from './errors.js';

export const sse: Source = {
  accept: 'text/event-stream',
  resumeHeader: 'Last-Event-ID',
  // The client's body errors when its signal aborts, so the signal needs no handling here.
  async read(body, frame, alive) {
    let end = false;
    const p = createParser({
      onRetry: (ms) => frame({ kind: 'retry', ms }),
      onEvent: (e) => {
        // Flushing at end of body: an event that still completes was cut off mid-frame, as when a
        // connection dies; it is dropped (as EventSource drops it) and the client resumes before it.
        if (end) return;
        let d: unknown;
        try {
          d = JSON.parse(e.data);
        } catch {
          throw new StreamProtocolError('bad JSON');
        }
        frame(toFrame(e.event, e.id, d));
      },
    });
    // (The cast: DOM types let a body's Uint8Array sit on a SharedArrayBuffer, which a decoder refuses.)
    const r = body.pipeThrough(new TextDecoderStream() as TransformStream<Uint8Array, string>).getReader();
    // A chunk without a line end is held back: the parser rescans its partial line at every feed,
    // so a long line fed as it came cost quadratic time (16 MiB in 16 KiB chunks: about a minute).
    let rest = '';
    for (let c; !(c = await r.read()).done; await alive()) if (((rest += c.value), /[\r\n]/.test(c.value))) p.feed(rest), (rest = '');
    // ':' ends the body's last line if that ended in "\r" (the parser waits for a "\n" that may
    // follow, so a CR-only stream would look cut off), and adds no line of its own.
    p.feed(rest + ':');
    end = true;
    p.feed('\n\n');
  },
};
