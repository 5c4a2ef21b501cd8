// NDJSON over fetch (docs/http-streaming.md, "NDJSON framing"): one JSON object a line. Line
// splitting is hand-written: it is a split on "\n", and no library would be smaller.

import { toFrame, type Source } from './client.js';
import { StreamProtocolError } from './errors.js';

export const ndjson: Source = {
  accept: 'application/x-ndjson',
  resumeHeader: 'Streamspec-Resume',
  async read(body, frame, alive) {
    const line = (s: string) => {
      if (!s.trim()) return;
      let o: { seq?: unknown; id?: unknown; type?: unknown; data?: unknown; dropped?: unknown } | null;
      try {
        o = JSON.parse(s);
      } catch {
        o = null;
      }
      if (typeof o != 'object' || !o) throw new StreamProtocolError('not a JSON object: ' + s.slice(0, 80));
      if (o.type == '$heartbeat') return;
      // `seq ?? 0`: a missing seq must fail the check, not be taken from the id as for SSE.
      const f = toFrame(o.type, o.id, o.data ?? null, o.seq ?? 0);
      if (o.dropped !== undefined) frame(toFrame('$dropped', 0, { count: o.dropped }));
      frame(f);
    };
    const r = body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (let c; !(c = await r.read()).done; await alive()) {
      // Only the new chunk is split: splitting `buf` again at every chunk made a long line cost
      // quadratic time. `buf + ...` is a rope, flattened once when the line is parsed.
      const lines = dec.decode(c.value, { stream: true }).split('\n');
      lines[0] = buf + lines[0];
      buf = lines.pop()!;
      lines.forEach(line);
    }
    // Every frame ends with "\n": anything left is a frame cut off, as when a connection dies. It
    // is dropped; the client resumes before it (or, without resume, reports the interruption).
  },
};
