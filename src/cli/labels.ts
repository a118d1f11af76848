/**
 * `sample --labels`: a list of class names, labels and ranges of labels ("cat,dog",
 * "0-9", "1,3,5"), read when the command line is parsed and made labels once the model,
 * and so its class names, is loaded. The flag may be given several times; the lists add up.
 *
 * A whole argument that is a class's name (exactly, in NFC, commas and all) is that
 * class; otherwise its comma-separated parts are read. A part that is a class's name is
 * that class. Otherwise a number or a range is labels, or, where every class is named by
 * a number (folders 1, 2, 3 or 00, 01, 02), the classes with those numbers; a number that
 * is another class's number is refused as ambiguous.
 */
import { shownClassName } from '../data/class-names';
import { CliError } from './parse';

/** More labels than a grid could show rows for: refused before any list is built. */
export const MAX_LABELS = 65536;

/** One comma-separated part: its text, and the labels it spans when it is a number or a range. */
export interface LabelPart {
  text: string;
  range: [number, number] | null;
}

/** One --labels argument: its text, and its parts, or why it cannot be read as parts (refused unless the text is a class's name). */
export interface LabelArgument {
  text: string;
  parts: LabelPart[];
  problem: string | null;
}

/** The number of labels the parts span: a name counts one. */
const spanned = (parts: LabelPart[]): number => parts.reduce((n, { range }) => n + (range ? range[1] - range[0] + 1 : 1), 0);

/** Reads one --labels argument, after the `earlier` ones (commander's accumulator for a repeated option). */
export function labelList(value: string, earlier: LabelArgument[] = []): LabelArgument[] {
  const argument = (problem: string | null, parts: LabelPart[] = []) => [...earlier, { text: value, parts, problem }];
  const parts: LabelPart[] = [];
  for (const raw of value.split(',')) {
    const text = raw.trim();
    if (text === '') return argument(`labels must look like "0-9", "1,3,5" or "cat,dog", got "${value}"`);
    const match = /^(\d+)\s*(?:-\s*(\d+))?$/.exec(text);
    const range: [number, number] | null = match ? [Number(match[1]), Number(match[2] ?? match[1])] : null;
    if (range && range[1] < range[0]) return argument(`label range "${text}" runs backwards`);
    parts.push({ text, range });
    // Checked as the parts come, so that "0-99999999999" builds no list.
    if (spanned(parts) + earlier.reduce((n, e) => n + spanned(e.parts), 0) > MAX_LABELS) {
      return argument(`labels must be at most ${MAX_LABELS}, got "${value}"`);
    }
  }
  return argument(null, parts);
}

const listed = (names: readonly string[]) => names.slice(0, 20).map(shownClassName).join(', ') + (names.length > 20 ? ', …' : '');

/** The labels the arguments name, for a model with `classNames` (null when its classes have none). */
export function resolveLabels(list: LabelArgument[], classNames: readonly string[] | null): number[] {
  const names = classNames?.map((name) => name.normalize('NFC')) ?? null;
  const numbered = names?.every((name) => /^\d+$/.test(name)) ?? false;
  // The class of each number that a class's name is (several names with one number: none).
  const byNumber = new Map<number, number>();
  names?.forEach((name, y) => {
    if (!/^\d+$/.test(name)) return;
    const n = Number(name);
    byNumber.set(n, byNumber.has(n) ? -1 : y);
  });
  const resolvePart = ({ text, range }: LabelPart): number[] => {
    const named = names?.indexOf(text.normalize('NFC')) ?? -1;
    if (named >= 0) return [named];
    if (!range) {
      throw new CliError(names
        ? `"${text}" is not a class of this model (its classes: ${listed(names)})`
        : `"${text}" is not a label: this model's classes have no names, give numbers such as "0-9" or "1,3,5"`);
    }
    const labels: number[] = [];
    for (let n = range[0]; n <= range[1]; n++) {
      const y = byNumber.get(n);
      if (numbered) {
        if (y === undefined || y < 0) throw new CliError(`no single class of this model is numbered ${n} (its classes: ${listed(names!)})`);
        labels.push(y);
      } else {
        if (y !== undefined && y !== n) {
          throw new CliError(`"${text}" is ambiguous: label ${n}, and the number of class ${y} (${names![y]}); give class names, as this model's classes are named`);
        }
        labels.push(n);
      }
    }
    return labels;
  };
  return list.flatMap(({ text, parts, problem }) => {
    const whole = names?.indexOf(text.trim().normalize('NFC')) ?? -1;
    if (whole >= 0) return [whole];
    if (problem) throw new CliError(problem);
    return parts.flatMap(resolvePart);
  });
}

/** The one class a `--label` flag names, for a model with `classes` (null where the flag is not given). */
export function singleLabel(list: LabelArgument[] | undefined, classes: number, classNames: readonly string[] | null): number | null {
  if (list === undefined) return null;
  if (classes === 0) throw new CliError('this model has no classes: --label has nothing to choose');
  const labels = resolveLabels(list, classNames);
  if (labels.length !== 1) throw new CliError(`--label takes one class, got ${labels.length} (${list.map((l) => l.text).join(', ')})`);
  if (labels[0] >= classes) throw new CliError(`label ${labels[0]} is outside this model's 0-${classes - 1}`);
  return labels[0];
}
