// SSE over fetch (docs/http-streaming.md, "SSE framing"). Parsing is eventsource-parser's, which
// follows the WHATWG rules; this file only maps events to frames and checks how the body ends.

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
        // Flushing at end of body: an event that still completes was cut off mid-frame.
        if (end) throw new StreamProtocolError('truncated frame');
        let d: unknown;
        try {
          d = JSON.parse(e.data);
        } catch {
          throw new StreamProtocolError('bad JSON');
        }
        frame(toFrame(e.event, e.id, d));
      },
    });
    const r = body.getReader();
    const dec = new TextDecoder();
    for (let c; !(c = await r.read()).done; await alive()) p.feed(dec.decode(c.value, { stream: true }));
    p.feed(dec.decode());
    end = true;
    p.feed('\n\n');
  },
};
