// View models for `types.ts` and `validate.ts`: every type expression and check is printed here
// (by generator/schema/), so the templates only lay the pieces out.

import type { BoundContract } from '../ir/bind.ts';
import type { Message, NamedType, SchemaNode, Stream } from '../ir/types.ts';
import { tsDeclarations, tsTypeExpr } from '../schema/ts-types.ts';
import { checkFunctionName, checkStatements, createPatternPool, validationImport, validatorDeclarations } from '../schema/validators.ts';

export interface Variant {
  readonly wire: string;
  /** Finished TS type of `data`. */
  readonly dataType: string;
  /** Name of the check function for `data`, or undefined when there is no payload. */
  readonly check: string | undefined;
  readonly doc: string | undefined;
}

export interface StreamTypesView {
  readonly wire: string;
  readonly doc: string;
  readonly messageType: string;
  readonly clientMessageType: string;
  readonly paramsType: string;
  readonly errorCodeType: string;
  readonly codes: readonly string[];
  readonly params: readonly { readonly wire: string; readonly type: string }[];
  readonly variants: readonly Variant[];
  readonly hasClient: boolean;
  readonly clientVariants: readonly Variant[];
}

export interface TypesView {
  readonly header: string;
  readonly declarations: string;
  readonly streams: readonly StreamTypesView[];
}

/** The in-band error payload every error mode shares: `{ code, message, retryable? }`. */
const errorPayload = (codeType: string) => `{ code: ${codeType}; message: string; retryable?: boolean }`;

export function typesView(bound: BoundContract, header: string): TypesView {
  const { contract } = bound;
  const types = typeMap(contract.types);
  const variant = (wire: string, payload: SchemaNode | undefined, doc?: string): Variant => ({
    wire,
    dataType: payload ? tsTypeExpr(payload, types) : 'null',
    check: payload?.kind === 'ref' ? checkFunctionName(types.get(payload.target)!) : undefined,
    doc,
  });
  const fromMessages = (ms: readonly Message[]) => ms.map((m) => variant(m.name.wire, m.payload));

  return {
    header,
    declarations: tsDeclarations(contract.types),
    streams: bound.streams.map(({ stream: s }) => {
      const variants = [
        ...fromMessages(s.messages),
        variant(s.termination.message.wire, s.termination.payload, 'The terminal message: nothing follows it.'),
      ];
      if (s.errors.message) {
        variants.push({ wire: s.errors.message.wire, dataType: errorPayload(s.typeNames.errorCode), check: undefined, doc: 'An in-band error: the stream goes on.' });
      }
      return {
        wire: s.name.wire,
        doc: streamDoc(s),
        messageType: s.typeNames.message,
        clientMessageType: s.typeNames.clientMessage,
        paramsType: s.typeNames.params,
        errorCodeType: s.typeNames.errorCode,
        codes: s.errors.codes.map((c) => c.wire),
        params: s.params.map((p) => ({ wire: p.name.wire, type: tsTypeExpr(p.schema, types) })),
        variants,
        hasClient: s.clientMessages.length > 0,
        clientVariants: fromMessages(s.clientMessages),
      };
    }),
  };
}

export interface StreamValidateView {
  readonly wire: string;
  readonly paramsFn: string;
  readonly paramsChecks: string;
  readonly requestFn: string;
  readonly requestChecks: string;
  readonly messageFn: string;
  readonly variants: readonly Variant[];
  readonly hasClient: boolean;
  readonly clientMessageFn: string;
  readonly clientVariants: readonly Variant[];
  /** Error codes an error payload may carry. */
  readonly codes: readonly string[];
  readonly errorMessage: string | undefined;
}

export interface ValidateView {
  readonly header: string;
  readonly runtimeImport: string;
  readonly patterns: string;
  readonly checks: string;
  readonly streams: readonly StreamValidateView[];
}

export function validateView(bound: BoundContract, header: string): ValidateView {
  const { contract } = bound;
  const types = typeMap(contract.types);
  const patterns = createPatternPool();
  const checks = validatorDeclarations(contract.types, types, patterns);
  const variant = (m: Message): Variant => ({
    wire: m.name.wire,
    dataType: '',
    check: m.payload?.kind === 'ref' ? checkFunctionName(types.get(m.payload.target)!) : undefined,
    doc: undefined,
  });
  const streams = bound.streams.map(({ stream: s }): StreamValidateView => {
    const paramsNode: SchemaNode = {
      kind: 'object',
      properties: s.params.map((p) => ({ name: p.name, required: true, schema: p.schema, pos: p.pos })),
      additional: false,
      pos: s.pos,
    };
    const terminal: Message = { name: s.termination.message, payload: s.termination.payload, pos: s.termination.pos };
    return {
      wire: s.name.wire,
      paramsFn: `validate${s.name.pascal}Params`,
      paramsChecks: checkStatements(paramsNode, 'v', '"params"', 'out', types, patterns),
      requestFn: `validate${s.name.pascal}Request`,
      requestChecks: s.request ? checkStatements(s.request, 'v', '"request"', 'out', types, patterns) : '',
      messageFn: `validate${s.name.pascal}Message`,
      variants: [...s.messages, terminal].map(variant),
      hasClient: s.clientMessages.length > 0,
      clientMessageFn: `validate${s.name.pascal}ClientMessage`,
      clientVariants: s.clientMessages.map(variant),
      codes: s.errors.codes.map((c) => c.wire),
      errorMessage: s.errors.message?.wire,
    };
  });
  return { header, runtimeImport: validationImport('./runtime/validation.js'), patterns: patterns.declarations(), checks, streams };
}

function typeMap(types: readonly NamedType[]): ReadonlyMap<string, NamedType> {
  return new Map(types.map((t) => [t.key, t]));
}

function streamDoc(s: Stream): string {
  const lines = [s.summary, s.description].flatMap((x) => (x?.trim() ? [x.trim()] : []));
  lines.push(`Stream \`${s.name.wire}\` (${s.direction}, ${s.path.template}); ends with \`${s.termination.message.wire}\`.`);
  return lines.join('\n\n');
}
