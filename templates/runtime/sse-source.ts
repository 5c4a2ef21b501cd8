// SSE over fetch (docs/http-streaming.md, "SSE framing"). Parsing is eventsource-parser's, which
// follows the WHATWG rules; this file only maps events to frames and drops a frame cut off at the end.

import { createParser } from 'eventsource-parser';
import type { Source } from './client.js';
import { StreamProtocolError } from './errors.js';

export const sse: Source = {
  accept: 'text/event-stream',
  resumeHeader: 'Last-Event-ID',
  async read(body, frame, alive, retry) {
    const p = createParser({
      onRetry: retry,
      onEvent: (e) => {
        let d: unknown;
        try {
          d = JSON.parse(e.data);
        } catch {
          throw new StreamProtocolError('bad JSON');
        }
        frame(e.event, e.id, d);
      },
    });
    const r = body.getReader();
    const dec = new TextDecoder();
    // A chunk without a line end is held back: the parser rescans its partial line at every feed,
    // so a long line fed as it came cost quadratic time (16 MiB in 16 KiB chunks: about a minute).
    // What is fed goes in pieces of about 1 KiB, each ending at a line end: the parser looks for
    // "\r" from each line to the end of what it was fed, so feeding a 64 KiB chunk whole cost
    // more than parsing it (0.6 µs a message).
    let rest = '';
    for (let c; !(c = await r.read()).done; await alive()) {
      const s = dec.decode(c.value, { stream: true });
      rest += s;
      // (`|| (rest = '')`: once all is fed, `rest` is emptied and the loop ends.)
      if (/[\r\n]/.test(s))
        for (let i = 0; i < rest.length || (rest = ''); ) p.feed(rest.slice(i, (i = rest.indexOf('\n', i + 1024) + 1 || rest.length)));
    }
    // ':' ends the body's last line if that ended in "\r" (the parser waits for a "\n" that may
    // follow, so a CR-only stream would look cut off), and adds no line of its own. An event not
    // ended by a blank line was cut off, as when a connection dies: it stays in the parser, never
    // dispatched (as EventSource drops it), and the client resumes before it.
    p.feed(rest + ':');
  },
};
