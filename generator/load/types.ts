// What the loader hands to the checks and the IR builder: plain data plus a way back to the
// source position of any node, in every file the contract pulls in through `$ref`.

import type { SourcePos } from '../ir/types.ts';

/** A path into a document's data, as in a JSON Pointer: object keys and array indexes. */
export type Pointer = readonly (string | number)[];

export interface YamlFile {
  /** The path as given (relative to the working directory when it was given that way), `/` separators. */
  readonly file: string;
  readonly text: string;
  /** The parsed data: plain objects, arrays and scalars; `$ref`s are kept as they are. */
  readonly value: unknown;
  /**
   * Position of the node at `pointer`: its key when `at` is 'key' (default for object members),
   * else its value. Falls back to the nearest ancestor that exists.
   */
  pos(pointer: Pointer, at?: 'key' | 'value'): SourcePos;
}

/** Where a `$ref` points: the file it lands in and the pointer inside it. */
export interface RefTarget {
  readonly file: YamlFile;
  readonly pointer: Pointer;
  readonly value: unknown;
}
