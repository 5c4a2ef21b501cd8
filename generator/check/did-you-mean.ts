// "Did you mean ...?" for unknown fields, enum values and unresolved $refs. Hand-written: the
// optimal-string-alignment distance is a dozen lines, and no installed library counts
// transpositions (`terminaton` -> `termination` must be one edit away, `sumary` -> `summary` too).

/** Damerau-Levenshtein distance (optimal string alignment): insert, delete, substitute, swap neighbours. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidate `given` most likely stands for: one equal ignoring case, else the nearest within
 * two edits (ties go to the earlier candidate). A candidate no longer than the edit count is
 * never suggested, so `id` does not "correct" to `to`.
 */
export function didYouMean(given: string, candidates: Iterable<string>): string | undefined {
  const list = [...candidates].filter((c) => c !== given);
  const lower = given.toLowerCase();
  const sameCase = list.find((c) => c.toLowerCase() === lower);
  if (sameCase !== undefined) return sameCase;
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of list) {
    const dist = editDistance(given, c);
    if (dist < bestDistance && dist < Math.min(given.length, c.length)) {
      best = c;
      bestDistance = dist;
    }
  }
  return best;
}
