/**
 * The names under which classes appear in file names (sample's --per-class files, the
 * class folders of --images-dir): their class names where every chosen class's name can
 * be one, else their labels. A checkpoint's class names are anyone's, so a name must stay
 * in its folder, not be hidden (an image folder's reader skips hidden entries), be short,
 * and not collide with another on a file system that ignores case or Unicode's form.
 */

const fitsFileName = (name: string): boolean => /^[^./\\\0][^/\\\0]*$/.test(name) && Buffer.byteLength(name) <= 100;

const folded = (name: string): string => name.normalize('NFC').toLowerCase();

/** Each of `labels` (distinct) with the name its files take. */
export function classFileNames(labels: readonly number[], classNames: readonly string[] | null | undefined): Map<number, string> {
  const names = classNames ? labels.map((y) => classNames[y]) : [];
  const byName = classNames != null && names.every(fitsFileName) && new Set(names.map(folded)).size === names.length;
  return new Map(labels.map((y) => [y, byName ? classNames[y] : String(y)]));
}
