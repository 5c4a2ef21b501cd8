// AsyncAPI 3.0 and 2.x documents as input: maps channels, operations and messages onto a StreamSpec
// document (plain data, positions pointing back into the AsyncAPI files), so the shape check, the
// IR builder and the discipline checks run on it unchanged. What AsyncAPI cannot say comes from
// `x-streamspec` (spec/x-streamspec.schema.json); what is still missing is one SS4xx each.
//
// Direction. The server of a stream is the application the document describes, unless the root's
// x-streamspec.application is client:
// - 3.0 speaks from the application's view: `send` = the application sends, `receive` = it receives.
// - 2.x speaks from the client's view: `subscribe` = clients subscribe, so the application sends;
//   `publish` = clients publish, so the application receives.
// A 3.0 `reply` travels the other way from its operation, on the operation's stream.

import { diagnostic, type Code, type Diagnostic } from '../../diagnostics.ts';
import { resolveRef } from '../load.ts';
import type { Pointer, YamlFile } from '../types.ts';
import { checkExtension } from './extension.ts';
import { Origins, type Loc } from './origins.ts';
import { SchemaCopier } from './schemas.ts';

export interface AsyncApiOptions {
  /** Fill what x-streamspec leaves out with the documented defaults, each reported as SS410. */
  readonly assumeDefaults?: boolean;
}

export interface AsyncApiResult {
  /** The StreamSpec document, as a YamlFile named like the AsyncAPI file; undefined on errors. */
  readonly document: YamlFile | undefined;
  readonly diagnostics: Diagnostic[];
}

/** What --assume-defaults fills in; the README's "AsyncAPI input" section lists the same. */
export const ASSUMED = {
  consumer: 'browser',
  backpressure: { strategy: 'pull', buffer: 64 },
  termination: ['done', 'end', 'complete'],
} as const;

type Json = Record<string, unknown>;
type Side = 'server' | 'client';
type Direction = 'server-to-client' | 'client-to-server' | 'bidirectional';
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const other = (s: Side): Side => (s === 'server' ? 'client' : 'server');

export function isAsyncApi(value: unknown): boolean {
  return isObj(value) && 'asyncapi' in value && !('streamspec' in value);
}

interface Msg {
  readonly name: string;
  /** The message object, after $refs. */
  readonly loc: Loc;
  /** Where the name was given (a map key or a $ref), for reports. */
  readonly at: Loc;
  readonly sender: Side;
}

interface Candidate {
  readonly id: string;
  readonly channel: Loc;
  readonly name: string;
  /** The channel's address, or undefined when the channel has none (3.0 `address: null`). */
  readonly address: string | undefined;
  readonly ops: { readonly loc: Loc; readonly action: Loc; readonly sender: Side }[];
  readonly messages: Msg[];
  /** x-streamspec fields by level: the channel's, then each operation's. */
  readonly channelExt: Map<string, Loc>[];
  readonly opExt: Map<string, Loc>[];
  /** Used as some operation's reply channel: no warning when it has no operation of its own. */
  replyOnly: boolean;
}

const STREAM_FIELDS = ['direction', 'producer', 'consumer', 'lossy', 'termination', 'errors', 'backpressure', 'resume', 'heartbeat'] as const;

export function fromAsyncApi(root: YamlFile, files: ReadonlyMap<string, YamlFile>, opts: AsyncApiOptions = {}): AsyncApiResult {
  return new Adapter(root, files, opts).run();
}

class Adapter {
  private readonly diagnostics: Diagnostic[] = [];
  private readonly origins = new Origins();
  private readonly schemas: SchemaCopier;
  private readonly doc: Json;
  private version: 2 | 3 = 3;
  private role: Side = 'server';
  private readonly candidates = new Map<string, Candidate>();
  private readonly checkedExt = new Set<string>();
  /** Messages already reported (SS411, SS412), each once however many streams use it. */
  private readonly warned = new Set<string>();
  /** Where a transport was suggested: ws or http bindings, or a server's protocol. */
  private readonly evidence: { ws?: Loc; http?: Loc; other?: Loc } = {};

  constructor(
    private readonly root: YamlFile,
    private readonly files: ReadonlyMap<string, YamlFile>,
    private readonly opts: AsyncApiOptions,
  ) {
    this.doc = (isObj(root.value) ? root.value : {}) as Json;
    this.schemas = new SchemaCopier(root, files, this.origins, this.diagnostics);
  }

  private report(code: Code, loc: Loc | { file: YamlFile; pointer: Pointer }, message: string, at: 'key' | 'value' = 'key'): void {
    this.diagnostics.push(diagnostic(code, loc.file.pos(loc.pointer, at), message));
  }

  private here(pointer: Pointer): Loc {
    let value: unknown = this.doc;
    for (const seg of pointer) value = isObj(value) || Array.isArray(value) ? (value as Json)[seg as string] : undefined;
    return { file: this.root, pointer, value };
  }

  run(): AsyncApiResult {
    const v = this.doc.asyncapi;
    const version = typeof v === 'string' ? /^(2)\.[0-6]\.\d+$|^(3)\.[01]\.\d+$/.exec(v) : null;
    if (!version) {
      this.report(
        'SS402',
        this.here(['asyncapi']),
        `asyncapi is ${JSON.stringify(v)}, but streamspec reads AsyncAPI 3.0 and 2.0 to 2.6 only. Write the document in AsyncAPI 3.0 (the AsyncAPI converter upgrades older ones).`,
        'value',
      );
      return this.done(undefined);
    }
    this.version = version[1] ? 2 : 3;

    const rootExt = this.extension(this.here([]), 'document');
    this.role = rootExt.get('application')?.value === 'client' ? 'client' : 'server';

    if (this.version === 3) this.collect3();
    else this.collect2();
    this.servers();

    const streams = this.streams(rootExt);
    if (streams.length === 0 && !this.diagnostics.some((d) => d.severity === 'error')) {
      this.report(
        'SS404',
        this.here(this.doc.operations !== undefined ? ['operations'] : this.doc.channels !== undefined ? ['channels'] : []),
        `the document has no ${this.version === 3 ? 'operation' : 'publish or subscribe operation'}, so there is no stream to generate. Add one for a channel, or give a channel x-streamspec.direction.`,
      );
    }
    if (this.diagnostics.some((d) => d.severity === 'error')) return this.done(undefined);

    const info = isObj(this.doc.info) ? this.doc.info : {};
    const out: Json = {
      streamspec: '1.0',
      info: {
        title: typeof info.title === 'string' ? info.title : 'Service',
        version: info.version === undefined ? '0.0.0' : String(info.version),
        ...(typeof info.description === 'string' ? { description: info.description } : {}),
      },
    };
    this.origins.set(['streamspec'], this.here(['asyncapi']));
    this.origins.set(['info'], this.here(['info']));

    const pkg = rootExt.get('package');
    out.package = typeof pkg?.value === 'string' ? pkg.value : packageName(info.title, info.version);
    this.origins.set(['package'], pkg ?? this.here(['info', 'title']));

    const transport = this.transport(rootExt, streams);
    out.transport = transport.value;
    this.origins.set(['transport'], transport);

    out.streams = Object.fromEntries(streams.map((s) => [s.name, s.value]));
    const components = this.schemas.components();
    if (Object.keys(components).length) out.components = { schemas: components };
    return this.done(this.origins.file(this.root, out));
  }

  private done(document: YamlFile | undefined): AsyncApiResult {
    return { document, diagnostics: this.diagnostics };
  }

  // -------------------------------------------------------------------------------------------
  // Reading the document

  /** The node at `loc`, with `$ref`s followed (undefined when one does not resolve: the loader said so). */
  private deref(loc: Loc): Loc | undefined {
    let here: Loc = loc;
    for (let hops = 0; isObj(here.value) && typeof here.value.$ref === 'string'; hops++) {
      if (hops > 32) return undefined;
      const t = resolveRef(here.file, here.value.$ref, this.files);
      if (!t) return undefined;
      here = t;
    }
    return here;
  }

  /** The first `$ref` hop of `loc`, so a message named by `#/channels/c/messages/m` is called m. */
  private firstHop(loc: Loc): Loc | undefined {
    if (!isObj(loc.value) || typeof loc.value.$ref !== 'string') return undefined;
    return resolveRef(loc.file, loc.value.$ref, this.files);
  }

  private child(loc: Loc, ...path: (string | number)[]): Loc {
    let value = loc.value;
    for (const seg of path) value = isObj(value) || Array.isArray(value) ? (value as Json)[seg as string] : undefined;
    return { file: loc.file, pointer: [...loc.pointer, ...path], value };
  }

  /** A mapping the mapping needs, or an SS403 saying what it is instead. */
  private mapping(loc: Loc, what: string): Loc | undefined {
    const d = this.deref(loc);
    if (!d) return undefined;
    if (isObj(d.value)) return d;
    this.report('SS403', loc, `${what} is ${show(d.value)}, not a mapping, so streamspec cannot read it. Write it as the AsyncAPI ${this.version === 3 ? '3.0' : '2.6'} specification describes.`, 'value');
    return undefined;
  }

  /** `field` of an object with traits applied as the version says: 2.x traits win, 3.0 the object wins. */
  private traited(obj: Loc, field: string): Loc | undefined {
    const own = isObj(obj.value) && obj.value[field] !== undefined ? this.child(obj, field) : undefined;
    let fromTrait: Loc | undefined;
    const traits = isObj(obj.value) && Array.isArray(obj.value.traits) ? obj.value.traits : [];
    traits.forEach((_, i) => {
      const t = this.deref(this.child(obj, 'traits', i));
      // Traits apply in order, so the last one that has the field is the one that counts.
      if (t && isObj(t.value) && t.value[field] !== undefined) fromTrait = this.child(t, field);
    });
    return this.version === 3 ? (own ?? fromTrait) : (fromTrait ?? own);
  }

  /** The x-streamspec fields of an object (with its traits), checked once per place. */
  private extension(obj: Loc, kind: 'stream' | 'document'): Map<string, Loc> {
    const fields = new Map<string, Loc>();
    const sources: Loc[] = [];
    const own = isObj(obj.value) && obj.value['x-streamspec'] !== undefined ? this.child(obj, 'x-streamspec') : undefined;
    const traits = kind === 'stream' && isObj(obj.value) && Array.isArray(obj.value.traits) ? obj.value.traits : [];
    const traitExts = traits
      .map((_, i) => this.deref(this.child(obj, 'traits', i)))
      .filter((t): t is Loc => !!t && isObj(t.value) && t.value['x-streamspec'] !== undefined)
      .map((t) => this.child(t, 'x-streamspec'));
    // Later sources win: 2.x applies traits over the object, 3.0 the object over its traits.
    if (this.version === 2) sources.push(...(own ? [own] : []), ...traitExts);
    else sources.push(...traitExts, ...(own ? [own] : []));
    for (const src of sources) {
      const key = JSON.stringify([src.file.file, ...src.pointer]);
      if (!this.checkedExt.has(key)) {
        this.checkedExt.add(key);
        const problems = checkExtension(src.file, src.pointer, src.value, kind);
        this.diagnostics.push(...problems);
      }
      if (!isObj(src.value)) continue;
      for (const field of Object.keys(src.value)) fields.set(field, this.child(src, field));
    }
    return fields;
  }

  private candidate(channel: Loc, name: string, address: string | undefined): Candidate {
    const id = JSON.stringify([channel.file.file, ...channel.pointer]);
    let c = this.candidates.get(id);
    if (!c) {
      c = { id, channel, name, address, ops: [], messages: [], channelExt: [this.extension(channel, 'stream')], opExt: [], replyOnly: false };
      this.candidates.set(id, c);
      this.bindings(channel);
    }
    return c;
  }

  private bindings(obj: Loc | undefined): void {
    if (!obj || !isObj(obj.value)) return;
    const b = this.deref(this.child(obj, 'bindings'));
    if (!b || !isObj(b.value)) return;
    if (b.value.ws !== undefined) this.evidence.ws ??= this.child(b, 'ws');
    if (b.value.http !== undefined) this.evidence.http ??= this.child(b, 'http');
  }

  // 3.0: channels by id; operations point at them.
  private collect3(): void {
    const channels = this.doc.channels === undefined ? undefined : this.mapping(this.here(['channels']), 'channels');
    for (const id of Object.keys((channels?.value as Json | undefined) ?? {})) {
      const ch = this.mapping(this.child(channels!, id), `channels.${id}`);
      if (ch) this.candidate(ch, id, address3(ch));
    }
    const ops = this.doc.operations === undefined ? undefined : this.mapping(this.here(['operations']), 'operations');
    for (const opId of Object.keys((ops?.value as Json | undefined) ?? {})) {
      const op = this.mapping(this.child(ops!, opId), `operations.${opId}`);
      if (!op) continue;
      const o = op.value as Json;
      if (o.action !== 'send' && o.action !== 'receive') {
        this.report('SS403', this.child(op, 'action'), `operations.${opId}.action is ${show(o.action)}. Write send (the application sends) or receive (the application receives).`, 'value');
        continue;
      }
      const chRef = this.child(op, 'channel');
      const ch = chRef.value === undefined ? undefined : this.mapping(chRef, `operations.${opId}.channel`);
      if (!ch) {
        if (chRef.value === undefined) this.report('SS403', op, `operation "${opId}" names no channel. Add channel: { $ref: '#/channels/<id>' }.`);
        continue;
      }
      const c = this.candidate(ch, String(ch.pointer[ch.pointer.length - 1] ?? opId), address3(ch));
      // The application's side of the stream is the server unless the document says it is the client.
      const appSide = this.role;
      const sender = o.action === 'send' ? appSide : other(appSide);
      c.ops.push({ loc: op, action: this.child(op, 'action'), sender });
      c.opExt.push(this.extension(op, 'stream'));
      this.bindings(op);
      this.addMessages3(c, op, ch, sender, opId);

      const replyRef = this.child(op, 'reply');
      if (replyRef.value === undefined) continue;
      const reply = this.mapping(replyRef, `operations.${opId}.reply`);
      if (!reply) continue;
      const rcRef = this.child(reply, 'channel');
      const rc = rcRef.value === undefined ? ch : this.mapping(rcRef, `operations.${opId}.reply.channel`);
      if (!rc) continue;
      const rcCand = this.candidate(rc, String(rc.pointer[rc.pointer.length - 1] ?? `${opId}Reply`), address3(rc));
      if (rcCand !== c) rcCand.replyOnly = true;
      this.addMessages3(c, reply, rc, other(sender), `${opId}Reply`);
    }
  }

  /** The messages an operation (or reply) lists, else every message of its channel. */
  private addMessages3(c: Candidate, op: Loc, ch: Loc, sender: Side, opId: string): void {
    const list = (op.value as Json).messages;
    if (Array.isArray(list)) {
      list.forEach((_, i) => {
        const at = this.child(op, 'messages', i);
        const hop = this.firstHop(at);
        const msg = this.deref(at);
        if (!msg) return;
        const named = hop ? String(hop.pointer[hop.pointer.length - 1]) : undefined;
        this.addMessage(c, msg, at, sender, named ?? messageName(msg, `${opId}Message${i + 1}`));
      });
      return;
    }
    const messages = this.child(ch, 'messages');
    if (messages.value === undefined) return;
    const map = this.mapping(messages, 'messages');
    for (const key of Object.keys((map?.value as Json | undefined) ?? {})) {
      const at = this.child(map!, key);
      const msg = this.deref(at);
      if (msg) this.addMessage(c, msg, at, sender, key);
    }
  }

  // 2.x: channels by address, each with publish and subscribe.
  private collect2(): void {
    const channels = this.doc.channels === undefined ? undefined : this.mapping(this.here(['channels']), 'channels');
    for (const address of Object.keys((channels?.value as Json | undefined) ?? {})) {
      const ch = this.mapping(this.child(channels!, address), `channels["${address}"]`);
      if (!ch) continue;
      const c = this.candidate(ch, slug(address) || 'root', address);
      for (const verb of ['subscribe', 'publish'] as const) {
        const ref = this.child(ch, verb);
        if (ref.value === undefined) continue;
        const op = this.mapping(ref, `channels["${address}"].${verb}`);
        if (!op) continue;
        // The client's view: clients subscribe to what the application sends.
        const producedByApp = verb === 'subscribe';
        const sender = producedByApp ? this.role : other(this.role);
        c.ops.push({ loc: op, action: ref, sender });
        c.opExt.push(this.extension(op, 'stream'));
        this.bindings(op);
        const m = this.child(op, 'message');
        if (m.value === undefined) continue;
        const msg = this.deref(m);
        if (!msg || !isObj(msg.value)) continue;
        const fallback = `${typeof (op.value as Json).operationId === 'string' ? String((op.value as Json).operationId) : verb}Message`;
        if (Array.isArray(msg.value.oneOf)) {
          msg.value.oneOf.forEach((_, i) => {
            const at = this.child(msg, 'oneOf', i);
            const one = this.deref(at);
            if (one) this.addMessage(c, one, at, sender, this.name2(at, one, `${fallback}${i + 1}`));
          });
        } else {
          this.addMessage(c, msg, m, sender, this.name2(m, msg, fallback));
        }
      }
    }
  }

  /** 2.x message names: messageId, else the components.messages key it is taken from, else name. */
  private name2(at: Loc, msg: Loc, fallback: string): string {
    const v = msg.value as Json;
    if (typeof v.messageId === 'string') return v.messageId;
    const hop = this.firstHop(at);
    if (hop && hop.pointer[hop.pointer.length - 2] === 'messages') return String(hop.pointer[hop.pointer.length - 1]);
    return messageName(msg, fallback);
  }

  private addMessage(c: Candidate, loc: Loc, at: Loc, sender: Side, name: string): void {
    if (!isObj(loc.value)) {
      this.report('SS403', at, `message "${name}" is ${show(loc.value)}, not a message object. Give it a payload schema.`, 'value');
      return;
    }
    c.messages.push({ name, loc, at, sender });
    this.bindings(loc);
  }

  private servers(): void {
    const servers = isObj(this.doc.servers) ? this.doc.servers : {};
    for (const id of Object.keys(servers)) {
      const s = this.deref(this.here(['servers', id]));
      if (!s || !isObj(s.value)) continue;
      const protocol = String(s.value.protocol ?? '').toLowerCase();
      const at = this.child(s, 'protocol');
      if (protocol === 'ws' || protocol === 'wss') this.evidence.ws ??= at;
      else if (protocol === 'http' || protocol === 'https') this.evidence.http ??= at;
      else if (protocol) this.evidence.other ??= at;
      this.bindings(s);
    }
  }

  /** The base path of a channel's servers (3.0 pathname, 2.x the path of url). */
  private basePath(c: Candidate): string {
    const doc = isObj(this.doc.servers) ? this.doc.servers : {};
    const listed = (c.channel.value as Json).servers;
    const refs: Loc[] = Array.isArray(listed)
      ? listed.map((s, i) =>
          this.version === 3 ? this.child(c.channel, 'servers', i) : this.here(['servers', String(s)]),
        )
      : Object.keys(doc).map((id) => this.here(['servers', id]));
    const paths: { path: string; at: Loc }[] = [];
    for (const ref of refs) {
      const s = this.deref(ref);
      if (!s || !isObj(s.value)) continue;
      const v = s.value;
      const raw = this.version === 3 ? (typeof v.pathname === 'string' ? v.pathname : '') : typeof v.url === 'string' ? urlPath(v.url) : '';
      paths.push({ path: raw.replace(/\/+$/, ''), at: this.child(s, this.version === 3 ? 'pathname' : 'url') });
    }
    const first = paths[0];
    if (!first) return '';
    const differs = paths.find((p) => p.path !== first.path);
    if (differs) {
      this.report(
        'SS416',
        c.channel,
        `the servers of channel "${c.name}" have different base paths ("${first.path || '/'}" and "${differs.path || '/'}"), and a stream has one path. Using "${first.path || '/'}"; list one server under the channel's servers, or set x-streamspec.path.`,
      );
    }
    return first.path;
  }

  // -------------------------------------------------------------------------------------------
  // Streams

  private streams(rootExt: Map<string, Loc>): { name: string; value: Json }[] {
    const built: { path: string; cands: Candidate[] }[] = [];
    for (const c of this.candidates.values()) {
      if (c.ops.length === 0 && !c.channelExt.some((e) => e.has('direction'))) {
        // A reply channel's messages already joined its operation's stream; so did a channel's at an address a stream has.
        const streamAtAddress = [...this.candidates.values()].some((o) => o !== c && o.ops.length > 0 && o.address === c.address);
        if (!c.replyOnly && !streamAtAddress) {
          this.report(
            'SS405',
            c.channel,
            `channel "${c.name}" has no operation, so streamspec makes no stream of it. Add an operation that sends or receives on it, or x-streamspec.direction on the channel.`,
          );
        }
        continue;
      }
      const path = this.pathOf(c);
      const same = built.find((b) => b.path === path);
      if (same) same.cands.push(c);
      else built.push({ path, cands: [c] });
    }
    const names = new Set<string>();
    return built.map(({ path, cands }) => this.stream(path, cands, rootExt, names));
  }

  private readonly paths = new Map<string, string>();
  private pathOf(c: Candidate): string {
    const known = this.paths.get(c.id);
    if (known !== undefined) return known;
    const ext = c.channelExt.find((e) => e.has('path'))?.get('path') ?? c.opExt.find((e) => e.has('path'))?.get('path');
    const address = c.address === undefined ? `/${c.name}` : addressPath(c.address);
    const base = this.basePath(c);
    const path = typeof ext?.value === 'string' ? ext.value : base && address === '/' ? base : `${base}${address}`;
    this.paths.set(c.id, path);
    return path;
  }

  private stream(path: string, cands: Candidate[], rootExt: Map<string, Loc>, names: Set<string>): { name: string; value: Json } {
    const first = cands[0]!;
    const fields = this.merge(first, [rootExt], cands.flatMap((c) => c.channelExt), cands.flatMap((c) => c.opExt));
    const wanted = typeof fields.get('name')?.value === 'string' ? String(fields.get('name')!.value) : cands.length === 1 ? first.name : slug(path) || 'root';
    let name = wanted;
    for (let i = 2; names.has(name); i++) name = `${wanted}${i}`;
    names.add(name);
    const base: Pointer = ['streams', name];
    const set = (field: string, value: unknown, from: Loc): [string, unknown] => {
      this.origins.set([...base, field], from);
      return [field, value];
    };
    this.origins.set(base, first.channel);
    const entries: [string, unknown][] = [];

    const ch = first.channel.value as Json;
    const op0 = first.ops[0]?.loc.value as Json | undefined;
    const summary = typeof ch.summary === 'string' ? ch.summary : first.ops.length === 1 && typeof op0?.summary === 'string' ? op0.summary : undefined;
    if (summary !== undefined) entries.push(set('summary', summary, this.child(ch.summary !== undefined ? first.channel : first.ops[0]!.loc, 'summary')));
    if (typeof ch.description === 'string') entries.push(set('description', ch.description, this.child(first.channel, 'description')));
    // 2.x channels are keyed by their address, so the key is where the path is written.
    const pathFrom = fields.get('path') ?? (this.version === 3 && first.address !== undefined ? this.child(first.channel, 'address') : first.channel);
    entries.push(set('path', path, pathFrom));

    // Direction: x-streamspec, else who sends in the operations.
    const senders = new Set(cands.flatMap((c) => c.ops.map((o) => o.sender)));
    const dirField = fields.get('direction');
    const direction: Direction =
      typeof dirField?.value === 'string'
        ? (dirField.value as Direction)
        : senders.has('server') && senders.has('client')
          ? 'bidirectional'
          : senders.has('client')
            ? 'client-to-server'
            : 'server-to-client';
    const actionLoc = cands.flatMap((c) => c.ops.map((o) => o.action))[0] ?? first.channel;
    entries.push(set('direction', direction, dirField ?? actionLoc));
    const producer = fields.get('producer');
    const derivedProducer = { 'server-to-client': 'server', 'client-to-server': 'client', bidirectional: 'both' }[direction];
    entries.push(set('producer', producer?.value ?? derivedProducer, producer ?? dirField ?? actionLoc));

    const where = cands.length === 1 ? `channel "${first.name}"` : `the channels at ${path} (${cands.map((c) => `"${c.name}"`).join(', ')})`;
    const says = cands.length === 1 ? 'does not say' : 'do not say';
    const has = cands.length === 1 ? 'has' : 'have';
    const primitive = (field: 'consumer' | 'backpressure' | 'termination', code: Code, what: string, example: string, assumed: unknown): void => {
      const given = fields.get(field);
      if (given) {
        entries.push(set(field, field === 'termination' ? this.termination(given, [...base, field]) : structuredClone(given.value), given));
        return;
      }
      if (this.opts.assumeDefaults) {
        this.report('SS410', first.channel, `${where} ${says} ${what}; assumed x-streamspec.${field}: ${flow(assumed)} (--assume-defaults). Add x-streamspec.${field} to say so in the document.`);
        entries.push(set(field, assumed, first.channel));
        return;
      }
      this.report(
        code,
        first.channel,
        `${where} ${says} ${what}, and AsyncAPI has no field for it. Add x-streamspec.${field}, such as ${field}: ${example}, to the channel or its operation (or to the document's x-streamspec for every stream), or run with --assume-defaults.`,
      );
    };
    primitive('consumer', 'SS406', 'who reads the stream', 'browser', ASSUMED.consumer);

    const lossy = fields.get('lossy');
    if (lossy) entries.push(set('lossy', lossy.value, lossy));

    const params = this.params(cands, [...base, 'params']);
    if (params) entries.push(set('params', params.value, params.from));
    const request = this.request(cands, fields, [...base, 'request']);
    if (request !== undefined) entries.push(['request', request]);

    // Messages: by sender; with only x-streamspec.direction, the channel's messages go the way it says.
    const all = cands.flatMap((c) => (c.ops.length ? c.messages : this.channelMessages(c, direction)));
    const server = this.messageMap(all.filter((m) => m.sender === 'server'), [...base, 'messages'], `${where} ${has}`);
    const client = this.messageMap(all.filter((m) => m.sender === 'client'), [...base, 'clientMessages'], `${where} ${has}`);
    if (Object.keys(server).length === 0 && Object.keys(client).length === 0) {
      this.report('SS409', first.channel, `${where} ${has} no messages, so its stream would carry nothing. Add messages to the channel, with a payload schema each.`);
    }
    if (Object.keys(server).length) entries.push(['messages', server]);
    if (Object.keys(client).length) entries.push(['clientMessages', client]);

    const taken = new Set([...Object.keys(server), ...Object.keys(client)]);
    const endName = ASSUMED.termination.find((n) => !taken.has(n)) ?? 'streamEnd';
    primitive('termination', 'SS408', 'how the stream ends', '{ message: done }', { message: endName });
    const optional = (field: 'errors' | 'resume' | 'heartbeat') => {
      const given = fields.get(field);
      if (given) entries.push(set(field, structuredClone(given.value), given));
    };
    optional('errors');
    primitive('backpressure', 'SS407', 'how the producer is slowed when the consumer falls behind', '{ strategy: pull, buffer: 64 }', { ...ASSUMED.backpressure });
    optional('resume');
    optional('heartbeat');
    return { name, value: Object.fromEntries(entries) };
  }

  /**
   * x-streamspec fields of one stream: an operation's win over a channel's, a channel's over the
   * root's. Two of one level that disagree (two operations of a channel, or channels that share
   * an address) are an SS414.
   */
  private merge(first: Candidate, ...levels: Map<string, Loc>[][]): Map<string, Loc> {
    const out = new Map<string, Loc>();
    for (const level of levels) {
      const here = new Map<string, Loc>();
      for (const fields of level) {
        for (const [field, loc] of fields) {
          if (field === 'package' || field === 'transport' || field === 'application') continue;
          const seen = here.get(field);
          if (seen && JSON.stringify(seen.value) !== JSON.stringify(loc.value)) {
            const line = seen.file.pos(seen.pointer).line;
            this.report(
              'SS414',
              loc,
              `x-streamspec.${field} here disagrees with the one on line ${line}${seen.file !== loc.file ? ` of ${seen.file.file}` : ''}, and both are for the stream of channel "${first.name}". Give it once, on the channel.`,
            );
            continue;
          }
          if (!seen) here.set(field, loc);
        }
      }
      for (const [field, loc] of here) out.set(field, loc);
    }
    return out;
  }

  private termination(given: Loc, at: Pointer): unknown {
    const v = given.value;
    if (!isObj(v) || v.payload === undefined) return structuredClone(v);
    return { ...structuredClone(v), payload: this.schemas.copy(this.child(given, 'payload'), [...at, 'payload']) };
  }

  private channelMessages(c: Candidate, direction: Direction): Msg[] {
    const messages = this.child(c.channel, 'messages');
    const map = messages.value === undefined ? undefined : this.deref(messages);
    const out: Msg[] = [];
    const sides: Side[] = direction === 'bidirectional' ? ['server', 'client'] : direction === 'client-to-server' ? ['client'] : ['server'];
    if (this.version === 2) return c.messages;
    for (const key of Object.keys(isObj(map?.value) ? map.value : {})) {
      const at = this.child(map!, key);
      const msg = this.deref(at);
      if (msg && isObj(msg.value)) for (const sender of sides) out.push({ name: key, loc: msg, at, sender });
    }
    return out;
  }

  /** One side's messages as `name: payload schema`, each message once. */
  /** `whereHas`: the stream's channels and their verb, such as `channel "feed" has`. */
  private messageMap(messages: Msg[], at: Pointer, whereHas: string): Json {
    const out: Json = {};
    const from = new Map<string, Msg>();
    for (const m of messages) {
      const seen = from.get(m.name);
      if (seen) {
        if (!sameLoc(seen.loc, m.loc)) {
          const line = seen.at.file.pos(seen.at.pointer).line;
          this.report('SS415', m.at, `${whereHas} two different messages named "${m.name}" (the other on line ${line}), and a stream tells its messages apart by name. Rename one of them in its channel's messages.`);
        }
        continue;
      }
      from.set(m.name, m);
      out[m.name] = this.payload(m, [...at, m.name]);
    }
    return out;
  }

  private payload(m: Msg, at: Pointer): unknown {
    const v = m.loc.value as Json;
    const headers = this.traited(m.loc, 'headers');
    const id = JSON.stringify([m.loc.file.file, ...m.loc.pointer]);
    if (headers && !this.warned.has(id)) {
      this.warned.add(id);
      this.report(
        'SS412',
        headers,
        `message "${m.name}" has headers, and a streamspec message carries only its payload, so they are left out of the generated types. Move what the consumer needs into the payload, or into x-streamspec.request when it is sent once as the stream opens.`,
      );
    }
    const ref = this.child(m.loc, 'payload');
    if (v.payload === undefined) {
      this.origins.set(at, m.loc);
      return {};
    }
    let target: Loc = ref;
    let format = this.version === 2 ? this.traited(m.loc, 'schemaFormat') : undefined;
    const resolved = this.deref(ref);
    // 3.0 Multi Format Schema Object: { schemaFormat, schema }.
    if (resolved && isObj(resolved.value) && typeof resolved.value.schemaFormat === 'string' && resolved.value.schema !== undefined) {
      format = this.child(resolved, 'schemaFormat');
      target = this.child(resolved, 'schema');
    }
    if (format && typeof format.value === 'string' && !isJsonSchemaFormat(format.value)) {
      if (this.warned.has(`format ${id}`)) return {};
      this.warned.add(`format ${id}`);
      this.report(
        'SS411',
        format,
        `message "${m.name}" has a payload in ${format.value}, and streamspec turns only JSON Schema (and AsyncAPI Schema) into types and validators. Give the message a JSON Schema payload.`,
        'value',
      );
      return {};
    }
    // A payload by $ref stays a ref (to a components.schemas entry), so its type keeps its name.
    return this.schemas.copy(target, at);
  }

  private params(cands: Candidate[], at: Pointer): { value: Json; from: Loc } | undefined {
    const out: Json = {};
    let from: Loc | undefined;
    for (const c of cands) {
      const ref = this.child(c.channel, 'parameters');
      if (ref.value === undefined) continue;
      const map = this.mapping(ref, `channel "${c.name}" parameters`);
      if (!map) continue;
      from ??= map;
      for (const name of Object.keys(map.value as Json)) {
        if (name in out) continue;
        const p = this.deref(this.child(map, name));
        if (!p || !isObj(p.value)) continue;
        const pv = p.value;
        if (this.version === 2 && pv.schema !== undefined) {
          const schema = this.schemas.copy(this.child(p, 'schema'), [...at, name]) as Json;
          out[name] = typeof pv.description === 'string' && schema.description === undefined ? { ...schema, description: pv.description } : schema;
        } else {
          // 3.0 parameters are strings, with an optional enum, default, description and examples.
          this.origins.set([...at, name], p);
          out[name] = {
            type: 'string',
            ...(Array.isArray(pv.enum) ? { enum: structuredClone(pv.enum) } : {}),
            ...(typeof pv.default === 'string' ? { default: pv.default } : {}),
            ...(typeof pv.description === 'string' ? { description: pv.description } : {}),
            ...(Array.isArray(pv.examples) ? { examples: structuredClone(pv.examples) } : {}),
          };
        }
      }
    }
    return from ? { value: out, from } : undefined;
  }

  /** x-streamspec.request, else the query of a ws channel binding or an http operation binding. */
  private request(cands: Candidate[], fields: Map<string, Loc>, at: Pointer): unknown {
    const given = fields.get('request');
    if (given) return this.schemas.copy(given, at);
    for (const c of cands) {
      const sources = [
        { obj: c.channel, protocol: 'ws' },
        ...c.ops.map((o) => ({ obj: o.loc, protocol: 'http' })),
      ];
      for (const { obj, protocol } of sources) {
        const b = this.deref(this.child(obj, 'bindings'));
        const query = b && isObj(b.value) && isObj(b.value[protocol]) ? this.child(b, protocol, 'query') : undefined;
        if (query && query.value !== undefined) return this.schemas.copy(query, at);
      }
    }
    return undefined;
  }

  private transport(rootExt: Map<string, Loc>, streams: { value: Json }[]): Loc {
    const given = rootExt.get('transport');
    if (given) return given;
    const oneWay = streams.every((s) => s.value.direction === 'server-to-client');
    if (this.evidence.ws) return { ...this.evidence.ws, value: 'websocket' };
    if (this.evidence.http) return { ...this.evidence.http, value: oneWay ? 'sse' : 'websocket' };
    const chosen = oneWay ? 'sse' : 'websocket';
    if (this.evidence.other) {
      this.report(
        'SS413',
        this.evidence.other,
        `the servers speak ${String(this.evidence.other.value)}, which streamspec does not generate; the streams are generated for ${chosen}${oneWay ? ', as every one goes server to client' : ', as some stream goes client to server'}. Set x-streamspec.transport at the document root to choose another.`,
        'value',
      );
      return { ...this.evidence.other, value: chosen };
    }
    return { ...this.here(['asyncapi']), value: chosen };
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

function address3(ch: Loc): string | undefined {
  const a = (ch.value as Json).address;
  return typeof a === 'string' ? a : undefined;
}

/** An address as a URL path: a full URL loses its scheme and host; the rest gains a leading "/". */
function addressPath(address: string): string {
  const url = /^[a-z][a-z0-9+.-]*:\/\/[^/]*(.*)$/i.exec(address);
  const path = url ? url[1]! : address;
  return path.startsWith('/') ? path : `/${path}`;
}

/** The path of a 2.x server url, which may lack a scheme and hold {variables}. */
function urlPath(url: string): string {
  const rest = url.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const slash = rest.indexOf('/');
  return slash < 0 ? '' : rest.slice(slash);
}

/** A stream name from an address: its literal segments joined with "-". */
function slug(address: string): string {
  const s = address
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .join('-');
  return s === '' ? '' : /^[A-Za-z]/.test(s) ? s : `channel-${s}`;
}

function messageName(msg: Loc, fallback: string): string {
  const v = msg.value as Json;
  if (typeof v.name === 'string') return v.name;
  const last = msg.pointer[msg.pointer.length - 1];
  const before = msg.pointer[msg.pointer.length - 2];
  return before === 'messages' && typeof last === 'string' ? last : fallback;
}

/** A proto package from info: `Gemini Market Data API` 1.2.0 -> gemini_market_data_api.v1. */
function packageName(title: unknown, version: unknown): string {
  const words = String(title ?? '')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  let name = words.join('_') || 'service';
  if (!/^[a-z]/.test(name)) name = `api_${name}`;
  const major = /^v?(\d+)/.exec(String(version ?? ''))?.[1] ?? '1';
  return `${name}.v${major}`;
}

function isJsonSchemaFormat(format: string): boolean {
  return /^application\/(schema\+(json|yaml)|vnd\.aai\.asyncapi(\+(json|yaml))?)(;|$)/i.test(format.trim());
}

function sameLoc(a: Loc, b: Loc): boolean {
  return a.file.file === b.file.file && JSON.stringify(a.pointer) === JSON.stringify(b.pointer);
}

function show(value: unknown): string {
  if (value === null || value === undefined) return 'empty';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return Array.isArray(value) ? 'a list' : 'a mapping';
}

/** A value as it would be written in YAML flow style, for messages. */
function flow(value: unknown): string {
  if (isObj(value)) return `{ ${Object.entries(value).map(([k, v]) => `${k}: ${flow(v)}`).join(', ')} }`;
  return String(value);
}
