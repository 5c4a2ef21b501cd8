// The StreamSpec document made from an AsyncAPI one is plain data like any loaded contract; what
// makes it a YamlFile is `pos`, which answers for each node with the place in the AsyncAPI files
// the node came from. So every later check (shape, build, discipline, transport fit) reports
// into the file the user wrote, without knowing there was a conversion.

import type { SourcePos } from '../../ir/types.ts';
import type { Pointer, YamlFile } from '../types.ts';

/** A node of a loaded file: where it is, and its value. */
export interface Loc {
  readonly file: YamlFile;
  readonly pointer: Pointer;
  readonly value: unknown;
}

const keyOf = (pointer: Pointer): string => JSON.stringify(pointer.map(String));

export class Origins {
  private readonly map = new Map<string, { file: YamlFile; pointer: Pointer }>();

  /** The synthetic node at `at` (and, structurally, everything under it) came from `from`. */
  set(at: Pointer, from: { readonly file: YamlFile; readonly pointer: Pointer }): void {
    this.map.set(keyOf(at), { file: from.file, pointer: from.pointer });
  }

  /**
   * A YamlFile named like `root` whose value is `value` and whose positions come from the
   * nearest mapped ancestor: the rest of the pointer is followed in that file, and where it does
   * not exist there (a field the conversion added) the ancestor's own position stands for it.
   */
  file(root: YamlFile, value: unknown): YamlFile {
    const pos = (pointer: Pointer, at?: 'key' | 'value'): SourcePos => {
      for (let n = pointer.length; n >= 0; n--) {
        const hit = this.map.get(keyOf(pointer.slice(0, n)));
        if (hit) return hit.file.pos([...hit.pointer, ...pointer.slice(n)], at);
      }
      return root.pos([], at);
    };
    return { file: root.file, text: root.text, value, pos };
  }
}
