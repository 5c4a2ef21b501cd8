// NDJSON over fetch (docs/http-streaming.md, "NDJSON framing"): one JSON object a line. Line
// splitting is hand-written: it is a split on "\n", and no library would be smaller.

import { ID, type Source } from './client.js';
import { StreamProtocolError } from './errors.js';

// The `<streamId>.` (22 base64url characters and a dot) of the last id that passed client.ts's ID.
let checked: string | undefined;

/**
 * The seq an id holds, `<streamId>.<seq>` with the seq a whole number from 1 in at most 15 digits;
 * 0 or NaN for anything else. The first id of each stream id is tested with ID; later ones are
 * compared with its stream id (indexOf 0, a third of startsWith's cost) and their seq read digit
 * by digit: the client's regex and slice cost 0.1 µs a message, about a tenth of the client's work.
 */
export const idSeq = (id: unknown): number => {
  let n = 0;
  if (typeof id == 'string' && id.length < 39 && id[23]! > '0' && ((checked && !id.indexOf(checked)) || (ID.test(id) && (checked = id.slice(0, 23)))))
    for (let i = 23, c; i < id.length; ) n = (c = id.charCodeAt(i++) - 48) >>> 0 < 10 ? n * 10 + c : NaN;
  return n;
};

export const ndjson: Source = {
  accept: 'application/x-ndjson',
  resumeHeader: 'Streamspec-Resume',
  async read(body, frame, alive) {
    const line = (s: string) => {
      let o: { seq?: unknown; id?: unknown; type?: unknown; data?: unknown; dropped?: unknown } | null;
      try {
        o = JSON.parse(s);
      } catch {
        // A blank line is skipped; it is tested only here, where JSON.parse already failed.
        if (!s.trim()) return;
        o = null;
      }
      if (typeof o != 'object' || !o) throw new StreamProtocolError('not a JSON object: ' + s.slice(0, 80));
      if (o.type == '$heartbeat') return;
      if (o.dropped !== undefined) frame('$dropped', 0, { count: o.dropped });
      // The seq must be the id's: a missing one fails, it is not taken from the id as for SSE.
      const n = idSeq(o.id);
      frame(o.type, o.id, o.data ?? null, o.seq === n ? n : 0);
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
