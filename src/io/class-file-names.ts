/**
 * The names under which classes appear in file names: sample's --per-class files, and the
 * class folders of an image folder. A checkpoint's class names are anyone's, so a name
 * must stay in its folder, not be hidden (an image folder's reader skips hidden entries),
 * be short, and not collide with another on a file system that ignores case or Unicode's
 * form.
 */
import { PixelCNNError } from '../errors';

const fitsFileName = (name: string): boolean => /^[^./\\\0][^/\\\0]*$/.test(name) && Buffer.byteLength(name) <= 100;

const folded = (name: string): string => name.normalize('NFC').toLowerCase();

/** The first of `names` that cannot be a file name beside the others, or null when all can. */
function unfit(names: string[]): string | null {
  const seen = new Set<string>();
  for (const name of names) {
    if (!fitsFileName(name) || seen.has(folded(name))) return name;
    seen.add(folded(name));
  }
  return null;
}

/** Each of `labels` (distinct) with the name its files take: its class's name where every one fits, else its label. */
export function classFileNames(labels: readonly number[], classNames: readonly string[] | null | undefined): Map<number, string> {
  const byName = classNames != null && unfit(labels.map((y) => classNames[y])) === null;
  return new Map(labels.map((y) => [y, byName ? classNames[y] : String(y)]));
}

/**
 * Each of `labels` (distinct) with its class folder: its class's name, or its label where
 * the classes have no names (as an image folder of such a model is read). A name that
 * cannot be a folder is refused (ERR_ARG), never replaced by a label, which the folder's
 * reader would take for another class.
 */
export function classFolderNames(labels: readonly number[], classNames: readonly string[] | null | undefined): Map<number, string> {
  if (classNames == null) return new Map(labels.map((y) => [y, String(y)]));
  const bad = unfit(labels.map((y) => classNames[y]));
  if (bad !== null) {
    throw new PixelCNNError(
      'ERR_ARG',
      `the class name ${JSON.stringify(bad)} cannot name a class folder (it is hidden, long, holds a slash, or differs from another only in case): ` +
        'write the levels instead (sample --levels-out)',
    );
  }
  return new Map(labels.map((y) => [y, classNames[y]]));
}
