/**
 * Sampled levels on disk: a raw file of uint8 levels laid out [N, C, H, W]
 * (row-major, no header) and a JSON sidecar that says how to read it:
 * { format: "gated-pixelcnn-levels", version: 1, dtype: "uint8", layout: "NCHW",
 *   count, channels, height, width, levels (K), labels?, ...what made them }.
 * Both are written atomically, after every check (so a refusal leaves both as they were).
 */

import { PixelCNNError } from '../errors';
import { writeFilesAtomicSync } from '../io/atomic-write';
import { checkWritableFile, ensureFolderOf, statPath } from '../io/directories';
import { readRegularFile } from '../io/read-regular-file';
import type { ModelConfig } from '../nn/config';

export interface LevelsSidecar {
  format: 'gated-pixelcnn-levels';
  version: 1;
  dtype: 'uint8';
  layout: 'NCHW';
  count: number;
  channels: number;
  height: number;
  width: number;
  levels: number;
  labels?: number[];
  [provenance: string]: unknown;
}

/** The sidecar's own fields, which `extra` may not set. */
const SIDECAR_FIELDS = ['format', 'version', 'dtype', 'layout', 'count', 'channels', 'height', 'width', 'levels', 'labels'];

/**
 * Checks, before sampling, that `file` and its sidecar can be written: new files, or an
 * earlier levels file and its sidecar, which are replaced; any other file there is the
 * user's, and refused (ERR_IO).
 */
export function checkLevelsTarget(file: string): void {
  for (const target of [file, `${file}.json`]) checkWritableFile(target);
  const [data, sidecar] = [statPath(file), statPath(`${file}.json`)];
  if (!data && !sidecar) return;
  let format: unknown;
  try {
    format = (JSON.parse(readRegularFile(`${file}.json`).toString('utf8')) as { format?: unknown }).format;
  } catch {
    format = undefined;
  }
  if (format !== 'gated-pixelcnn-levels') {
    throw new PixelCNNError('ERR_IO', `${data ? file : `${file}.json`} exists and is not a levels file written by sample: give a new name`);
  }
}

/**
 * Writes `file` (raw levels) and `file + '.json'` (the sidecar); returns the sidecar.
 * Everything that can be checked is checked before either is written: an existing file
 * there is replaced only if it is an earlier levels file (checkLevelsTarget).
 */
export function writeLevelsFile(
  file: string,
  levels: Uint8Array,
  config: ModelConfig,
  extra: { labels?: ArrayLike<number> } & Record<string, unknown> = {},
): LevelsSidecar {
  const { labels, ...provenance } = extra;
  const perImage = config.channels * config.height * config.width;
  if (!(levels instanceof Uint8Array)) throw new PixelCNNError('ERR_TYPE', 'writeLevelsFile: levels must be a Uint8Array');
  if (levels.length === 0 || levels.length % perImage !== 0) {
    throw new PixelCNNError('ERR_LENGTH', `writeLevelsFile: ${levels.length} levels are not whole images of ${perImage}`);
  }
  const beyond = levels.findIndex((v) => v >= config.levels);
  if (beyond >= 0) {
    throw new PixelCNNError('ERR_RANGE', `writeLevelsFile: levels[${beyond}] is ${levels[beyond]}, outside [0, ${config.levels})`);
  }
  const count = levels.length / perImage;
  if (labels && labels.length !== count) {
    throw new PixelCNNError('ERR_LENGTH', `writeLevelsFile: ${labels.length} labels for ${count} images`);
  }
  const reserved = Object.keys(provenance).filter((key) => SIDECAR_FIELDS.includes(key));
  if (reserved.length > 0) throw new PixelCNNError('ERR_ARG', `writeLevelsFile: extra may not set ${reserved.join(', ')}`);
  const sidecar: LevelsSidecar = {
    format: 'gated-pixelcnn-levels',
    version: 1,
    dtype: 'uint8',
    layout: 'NCHW',
    count,
    channels: config.channels,
    height: config.height,
    width: config.width,
    levels: config.levels,
    ...(labels ? { labels: Array.from(labels) } : {}),
    ...provenance,
  };
  let json: string;
  try {
    json = JSON.stringify(sidecar, null, 2) + '\n';
  } catch (error) {
    throw new PixelCNNError('ERR_ARG', `writeLevelsFile: extra cannot be written as JSON: ${(error as Error).message}`);
  }
  checkLevelsTarget(file);
  ensureFolderOf(file);
  // Both written before either replaces an older pair, which a full disk so leaves matched.
  writeFilesAtomicSync([[file, levels], [`${file}.json`, json]]);
  return sidecar;
}
