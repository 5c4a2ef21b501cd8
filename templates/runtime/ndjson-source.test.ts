import { describe, expect, it } from 'vitest';
import { readWith, refusedBy } from '../../test/support/source.ts';
import { StreamProtocolError } from './errors.ts';
import { idSeq, ndjson } from './ndjson-source.ts';

const SID = 'AbCdEfGhIjKlMnOpQrSt_-';
const enc = new TextEncoder();

const read = (chunks: (string | Uint8Array)[]) => readWith(ndjson, chunks);
const refused = (text: string) => refusedBy(ndjson, text);

const line = (seq: number, type: string, data: unknown, extra = '') =>
  `{"seq":${seq},"id":"${SID}.${seq}","type":"${type}","data":${JSON.stringify(data)}${extra}}\n`;
// A message as NDJSON hands it over: with the seq it read from the id, checked against its `seq`.
const msg = (seq: number, type: string, data: unknown) => [type, `${SID}.${seq}`, data, seq];
const euro = enc.encode(line(1, 't', '€'));
const cut = euro.indexOf(0xe2) + 1;

describe('ndjson source', () => {
  it.each<[string, { given: (string | Uint8Array)[]; want: unknown[] }]>([
    ['one line', { given: [line(1, 'token', { text: 'a' })], want: [msg(1, 'token', { text: 'a' })] }],
    [
      'lines split anywhere across chunks',
      {
        given: [line(1, 't', 1).slice(0, 9), line(1, 't', 1).slice(9) + line(2, 't', 2).slice(0, 30), line(2, 't', 2).slice(30)],
        want: [msg(1, 't', 1), msg(2, 't', 2)],
      },
    ],
    [
      'many lines in one chunk',
      { given: [line(1, 't', 1) + line(2, 't', 2) + line(3, 'done', null)], want: [msg(1, 't', 1), msg(2, 't', 2), msg(3, 'done', null)] },
    ],
    ['a character split across chunks', { given: [euro.slice(0, cut), euro.slice(cut)], want: [msg(1, 't', '€')] }],
    ['CRLF and blank lines', { given: [line(1, 't', 1).replace('\n', '\r\n') + '\n\n'], want: [msg(1, 't', 1)] }],
    ['heartbeat lines are not frames', { given: ['{"type":"$heartbeat"}\n', line(1, 't', 1)], want: [msg(1, 't', 1)] }],
    ['a message without data is null', { given: [`{"seq":1,"id":"${SID}.1","type":"done"}\n`], want: [msg(1, 'done', null)] }],
    [
      'dropped comes before its message',
      { given: [line(2, 't', 0, ',"dropped":3')], want: [['$dropped', 0, { count: 3 }], msg(2, 't', 0)] },
    ],
    [
      '$error',
      {
        given: [line(9, '$error', { code: 'RATE_LIMITED', message: 'slow down', retryable: true })],
        want: [msg(9, '$error', { code: 'RATE_LIMITED', message: 'slow down', retryable: true })],
      },
    ],
  ])('%s', async (_name, { given, want }) => {
    const { frames, alive } = await read(given);
    expect(frames).toEqual(want);
    expect(alive).toBe(given.length);
  });

  it.each([
    ['bad JSON', '{"seq":\n'],
    ['a JSON array', '[]\n'],
    ['a JSON string', '"x"\n'],
    ['null', 'null\n'],
    ['a missing seq', `{"id":"${SID}.1","type":"t","data":1}\n`],
    ['a string seq', `{"seq":"1","id":"${SID}.1","type":"t","data":1}\n`],
    ['a fractional seq', `{"seq":1.5,"id":"${SID}.1","type":"t","data":1}\n`],
    ['a seq other than the id', line(1, 't', 1).replace('"seq":1', '"seq":2')],
    ['an id without a stream', '{"seq":1,"id":"1","type":"t","data":1}\n'],
    ['an id with a leading zero', `{"seq":1,"id":"${SID}.01","type":"t","data":1}\n`],
    ['an id in exponent form', `{"seq":1,"id":"${SID}.1e0","type":"t","data":1}\n`],
    ['an id with a bad stream id', `{"seq":1,"id":"AbCdEfGhIjKlMnOpQrSt_!.1","type":"t","data":1}\n`],
    ['a missing type', `{"seq":1,"id":"${SID}.1","data":1}\n`],
    ['an unknown reserved type', line(1, '$dropped', 1)],
    ['a bad dropped count', line(1, 't', 1, ',"dropped":"3"')],
  ])('rejects %s with StreamProtocolError', async (_name, given) => {
    expect(await refused(given)).toBeInstanceOf(StreamProtocolError);
  });

  // A body that ends inside a line is a connection that died: the complete lines before it
  // count, the cut one is dropped, and the client resumes before it.
  it.each([
    ['a last line without its newline', line(2, 't', 1).trimEnd()],
    ['a character cut at the end', euro.slice(0, cut)],
  ])('drops %s, keeping the complete lines before it', async (_name, cutOff) => {
    const { frames } = await read([line(1, 't', 0), cutOff]);
    expect(frames).toEqual([msg(1, 't', 0)]);
  });

  it('reads a 16 MiB line sent in 16 KiB chunks in linear time', async () => {
    // Rescanning the partial line at every chunk took 40-55 s here; linear takes well under 1 s.
    const text = 'a'.repeat(16 * 2 ** 20);
    const bytes = enc.encode(`{"seq":1,"id":"${SID}.1","type":"t","data":"` + text + '"}\n');
    const chunks = Array.from({ length: Math.ceil(bytes.length / 16384) }, (_, i) => bytes.subarray(i * 16384, (i + 1) * 16384));
    const t = performance.now();
    const { frames } = await read(chunks);
    expect(performance.now() - t).toBeLessThan(5000);
    expect(frames).toEqual([msg(1, 't', text)]);
  });

  // Read by hand, not by a regex: every form an id may not take, after and before a good id of
  // the same stream (the stream id part is tested once, then compared).
  it.each<[string, unknown, number]>([
    ['an id', `${SID}.7`, 7],
    ['the largest seq', `${SID}.999999999999999`, 999_999_999_999_999],
    ['another stream id', 'Zz09-_Zz09-_Zz09-_Zz09.3', 3],
    ['16 digits', `${SID}.1000000000000000`, NaN],
    ['seq 0', `${SID}.0`, NaN],
    ['a leading zero', `${SID}.05`, NaN],
    ['no seq', `${SID}.`, NaN],
    ['a sign', `${SID}.+5`, NaN],
    ['a space', `${SID}. 5`, NaN],
    ['a trailing space', `${SID}.5 `, NaN],
    ['a fraction', `${SID}.5.0`, NaN],
    ['an exponent', `${SID}.1e2`, NaN],
    ['hex', `${SID}.0x1f`, NaN],
    ['a stream id one short', `${SID.slice(1)}.5`, NaN],
    ['a stream id one long', `${SID}A.5`, NaN],
    ['a stream id with a character outside base64url', `${SID.slice(0, 21)}!.5`, NaN],
    ['a stream id with another separator', `${SID}:5`, NaN],
    ['not a string', [`${SID}.5`], NaN],
    ['undefined', undefined, NaN],
  ])('idSeq: %s', (_name, id, want) => {
    for (const before of [`${SID}.1`, 'Zz09-_Zz09-_Zz09-_Zz09.1', undefined]) {
      if (before) expect(idSeq(before)).toBe(1);
      const got = idSeq(id);
      if (Number.isNaN(want)) expect(got || 0).toBe(0);
      else expect(got).toBe(want);
    }
  });

  it('names what it accepts and how it resumes', () => {
    expect([ndjson.accept, ndjson.resumeHeader]).toEqual(['application/x-ndjson', 'Streamspec-Resume']);
  });
});
