import { describe, expect, it } from 'vitest';
import { readWith, refusedBy } from '../../test/support/source.ts';
import { StreamProtocolError } from './errors.ts';
import { sse } from './sse-source.ts';

const SID = 'AbCdEfGhIjKlMnOpQrSt_-';
const enc = new TextEncoder();

const read = (chunks: (string | Uint8Array)[]) => readWith(sse, chunks);
const refused = (text: string) => refusedBy(sse, text);

// A message as SSE hands it over: the client reads the seq from the id.
const msg = (seq: number, type: string, data: unknown) => [type, `${SID}.${seq}`, data];
const euro = enc.encode(`id: ${SID}.1\nevent: t\ndata: "€"\n\n`);
const cut = euro.indexOf(0xe2) + 1; // inside the three bytes of "€"
// Many frames in one chunk: the source feeds the parser about 1 KiB at a time, cut at line ends.
const many = (n: number, eol: string) => Array.from({ length: n }, (_, i) => `id: ${SID}.${i + 1}${eol}event: t${eol}data: "${'x'.repeat(i % 90)}"${eol}${eol}`).join('');
const manyWant = (n: number) => Array.from({ length: n }, (_, i) => msg(i + 1, 't', 'x'.repeat(i % 90)));

describe('sse source', () => {
  it.each<[string, { given: (string | Uint8Array)[]; want: unknown[] }]>([
    ['one frame', { given: [`id: ${SID}.1\nevent: token\ndata: {"text":"a"}\n\n`], want: [msg(1, 'token', { text: 'a' })] }],
    [
      'retry first',
      { given: [`retry: 1500\n\nid: ${SID}.1\nevent: done\ndata: null\n\n`], want: [{ ms: 1500 }, msg(1, 'done', null)] },
    ],
    [
      'frames split anywhere across chunks',
      {
        given: [`id: ${SID}`, `.1\nevent: to`, 'ken\nda', 'ta: 1\n', '\n', `id: ${SID}.2\nevent: token\ndata: 2\n\n`],
        want: [msg(1, 'token', 1), msg(2, 'token', 2)],
      },
    ],
    ['a character split across chunks', { given: [euro.slice(0, cut), euro.slice(cut)], want: [msg(1, 't', '€')] }],
    ['CRLF line endings', { given: [`id: ${SID}.1\r\nevent: token\r\ndata: 1\r\n\r\n`], want: [msg(1, 'token', 1)] }],
    ['200 frames (about 30 KiB) in one chunk, LF', { given: [many(200, '\n')], want: manyWant(200) }],
    ['200 frames in one chunk, CRLF', { given: [many(200, '\r\n')], want: manyWant(200) }],
    ['200 frames in one chunk, CR only', { given: [many(200, '\r')], want: manyWant(200) }],
    ['200 frames in two chunks cut mid-frame', { given: [many(200, '\n').slice(0, 15000), many(200, '\n').slice(15000)], want: manyWant(200) }],
    // The body's last "\r" ends its last line: the parser alone would wait for a "\n".
    ['CR line endings, to the end of the body', { given: [`id: ${SID}.1\revent: token\rdata: 1\r\r`], want: [msg(1, 'token', 1)] }],
    [
      'heartbeat comments are not frames',
      { given: [': hb\n\n', `id: ${SID}.1\nevent: done\ndata: null\n\n`, ': hb\n\n'], want: [msg(1, 'done', null)] },
    ],
    [
      '$dropped',
      {
        given: [`event: $dropped\ndata: {"count":3}\n\nid: ${SID}.4\nevent: t\ndata: 0\n\n`],
        want: [['$dropped', undefined, { count: 3 }], msg(4, 't', 0)],
      },
    ],
    [
      '$error',
      {
        given: [`id: ${SID}.2\nevent: $error\ndata: {"code":"RATE_LIMITED","message":"slow down","retryable":true}\n\n`],
        want: [msg(2, '$error', { code: 'RATE_LIMITED', message: 'slow down', retryable: true })],
      },
    ],
    ['an empty body', { given: [], want: [] }],
  ])('%s', async (_name, { given, want }) => {
    const { frames, alive } = await read(given);
    expect(frames).toEqual(want);
    expect(alive).toBe(given.length);
  });

  it.each([
    ['bad JSON', `id: ${SID}.1\nevent: t\ndata: {\n\n`],
    ['an empty data line', `id: ${SID}.1\nevent: t\ndata:\n\n`],
    ['no id', 'event: t\ndata: 1\n\n'],
    ['no event', `id: ${SID}.1\ndata: 1\n\n`],
    ['an unknown reserved event', `id: ${SID}.1\nevent: $heartbeat\ndata: 1\n\n`],
    ['a $dropped without a count', 'event: $dropped\ndata: {}\n\n'],
  ])('rejects %s with StreamProtocolError', async (_name, given) => {
    expect(await refused(given)).toBeInstanceOf(StreamProtocolError);
  });

  // A body that ends inside a frame is a connection that died: the complete frames before it
  // count, the cut one is dropped (as EventSource drops it), and the client resumes before it.
  it.each([
    ['a last frame without its blank line', `id: ${SID}.2\nevent: t\ndata: 1\n`],
    ['a last frame cut in its data', `id: ${SID}.2\nevent: t\ndata: 1`],
    ['a last frame without its blank line, CR endings', `id: ${SID}.2\revent: t\rdata: 1\r`],
    ['a character cut at the end', euro.slice(0, cut)],
  ])('drops %s, keeping the complete frames before it', async (_name, cutOff) => {
    const whole = `id: ${SID}.1\nevent: t\ndata: 0\n\n`;
    const { frames } = await read([whole, cutOff]);
    expect(frames).toEqual([msg(1, 't', 0)]);
  });

  it('reads a 16 MiB line sent in 16 KiB chunks in linear time', async () => {
    // Rescanning the partial line at every chunk took 40-55 s here; linear takes well under 1 s.
    const text = 'a'.repeat(16 * 2 ** 20);
    const bytes = enc.encode(`id: ${SID}.1\nevent: t\ndata: "` + text + '"\n\n');
    const chunks = Array.from({ length: Math.ceil(bytes.length / 16384) }, (_, i) => bytes.subarray(i * 16384, (i + 1) * 16384));
    const t = performance.now();
    const { frames } = await read(chunks);
    expect(performance.now() - t).toBeLessThan(5000);
    expect(frames).toEqual([msg(1, 't', text)]);
  });

  it('names what it accepts and how it resumes', () => {
    expect([sse.accept, sse.resumeHeader]).toEqual(['text/event-stream', 'Last-Event-ID']);
  });
});
