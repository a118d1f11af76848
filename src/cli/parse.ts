/** Parsers for command-line values: each throws a CliError with a one-line explanation. */
export class CliError extends Error {}

export function integer(name: string, min = 0): (value: string) => number {
  return (value) => {
    // Decimal digits only: Number() would also read '' as 0 and take '0x10' or '1e3'.
    const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < min) throw new CliError(`${name} must be an integer ≥ ${min}, got "${value}"`);
    return n;
  };
}

export function positiveNumber(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new CliError(`${name} must be a number > 0, got "${value}"`);
    return n;
  };
}

export function samplerKind(value: string): 'cached' | 'naive' {
  if (value !== 'cached' && value !== 'naive') throw new CliError(`--sampler must be cached or naive, got "${value}"`);
  return value;
}

/** A number strictly between 0 and 1 (a decay). */
export function unitInterval(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!(value.trim() !== '' && n > 0 && n < 1)) throw new CliError(`${name} must be a number between 0 and 1, got "${value}"`);
    return n;
  };
}

export function nonNegativeNumber(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0) throw new CliError(`${name} must be a number ≥ 0, got "${value}"`);
    return n;
  };
}

/** More labels than a grid could show rows for: refused before any list is built. */
export const MAX_LABELS = 65536;

/**
 * "0-9", "3,5,7", "0-4,8" → [0, 1, ..., 9] etc.; a part that is not a number or a range
 * is a class name ("cat,dog"), kept as a string for resolveLabels once the model is
 * loaded.
 */
export function labelList(value: string): (number | string)[] {
  const labels: (number | string)[] = [];
  for (const part of value.split(',')) {
    const match = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!match) {
      if (part.trim() === '') throw new CliError(`labels must look like "0-9", "1,3,5" or "cat,dog", got "${value}"`);
      if (labels.length >= MAX_LABELS) throw new CliError(`labels must be at most ${MAX_LABELS}, got "${value}"`);
      labels.push(part.trim());
      continue;
    }
    const from = Number(match[1]);
    const to = match[2] === undefined ? from : Number(match[2]);
    if (to < from) throw new CliError(`label range "${part.trim()}" runs backwards`);
    if (to - from + 1 > MAX_LABELS - labels.length) throw new CliError(`labels must be at most ${MAX_LABELS}, got "${value}"`);
    for (let y = from; y <= to; y++) labels.push(y);
  }
  return labels;
}

/**
 * labelList's parts made labels for a model with `classNames` (null when it has none): a
 * name is its class; a number is a label, or, where the classes are named by numbers
 * (folders 1, 2, 3), the class of that name; a number that is one class's name and
 * another's label is refused as ambiguous.
 */
export function resolveLabels(labels: (number | string)[], classNames: readonly string[] | null): number[] {
  const numbered = classNames?.every((name) => /^\d+$/.test(name)) ?? false;
  return labels.map((label) => {
    const named = classNames?.indexOf(String(label)) ?? -1;
    if (typeof label === 'number' && !numbered) {
      if (named >= 0 && named !== label) {
        throw new CliError(`"${label}" is ambiguous: label ${label}, and the name of class ${named}; give names only, as this model's classes are named`);
      }
      return label;
    }
    if (named >= 0) return named;
    throw new CliError(classNames
      ? `"${label}" is not a class of this model (its classes: ${classNames.slice(0, 20).join(', ')}${classNames.length > 20 ? ', …' : ''})`
      : `"${label}" is not a label: this model's classes have no names, give numbers such as "0-9" or "1,3,5"`);
  });
}
