/**
 * Folders of PNG images, laid out as torchvision's ImageFolder reads them: a folder of
 * PNG files (unlabeled), or a folder of class folders each holding PNG files, labeled by
 * folder. Folders and files are taken in torchvision's order (sorted by code point, so
 * "Zebra" before "apple" and "img10" before "img2"), so that labels agree with it; names
 * are compared in Unicode's NFC form, so that a folder copied through a file system that
 * stores another form keeps its class. Every image has the same size.
 *
 * The channels follow what the images hold: gray (1) when every pixel has R = G = B,
 * else RGB (3), plus alpha (2, 4) when some pixel is not opaque. A caller that needs
 * other channels gives them (a test split its training split's, an evaluation its
 * model's); an image that would lose something in them is refused, never converted
 * with a loss. 16-bit PNGs are read at 8 bits (pngjs's rescaling).
 */
import { constants as bufferConstants } from 'node:buffer';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { PixelCNNError } from '../errors';
import { optionsObject } from '../options';
import { declaredPngSize, decodePngPixels, readPngBytes } from '../io/png-read';
import { checkClassNames } from './class-names';
import { createDataset, type ImageDataset } from './dataset';

export interface ImageFolderOptions {
  /** Channels to read the images into (1 gray, 2 gray + alpha, 3 RGB, 4 RGBA); by default what they hold. */
  channels?: number;
  /**
   * The label of each class folder, by name (a test split takes its training split's,
   * an evaluation its model's); by default the class folders in name order.
   */
  classNames?: readonly string[] | null;
  /**
   * The size every image must have (an evaluation's model's): images of another size are
   * refused (ERR_DATA) before the class folders are matched to classNames, so that data
   * meant for another model is reported as such.
   */
  height?: number;
  width?: number;
}

const CHANNEL_NAMES: Record<number, string> = { 1: 'gray', 2: 'gray and alpha', 3: 'RGB', 4: 'RGBA' };

/** torchvision's order (Python's sorted()): by code point, which UTF-8's byte order is. */
const byCodePoint = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

interface FolderListing {
  images: string[];
  folders: string[];
}

/** A folder's PNG files and subfolders (hidden entries skipped); any other file is refused, so that nothing is silently left out. */
function listFolder(dir: string): FolderListing {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (error) {
    throw new PixelCNNError('ERR_IO', `cannot read the image folder ${dir}: ${(error as Error).message}`, { cause: error });
  }
  const listing: FolderListing = { images: [], folders: [] };
  const others: string[] = [];
  for (const name of names.filter((n) => !n.startsWith('.')).sort(byCodePoint)) {
    let stats: fs.Stats;
    try {
      stats = fs.statSync(path.join(dir, name));
    } catch (error) {
      throw new PixelCNNError('ERR_IO', `cannot read ${path.join(dir, name)}: ${(error as Error).message}`, { cause: error });
    }
    if (stats.isDirectory()) listing.folders.push(name);
    else if (/\.png$/i.test(name)) listing.images.push(name);
    else others.push(name);
  }
  if (others.length > 0) {
    const shown = others.slice(0, 3).join(', ') + (others.length > 3 ? `, … (${others.length} files)` : '');
    throw new PixelCNNError('ERR_DATA', `${dir}: only PNG images are read, but it holds ${shown}: convert them to PNG or move them out`);
  }
  return listing;
}

/** Each image file of the folder with its class folder's name (null when unlabeled). */
function imageFiles(dir: string): { file: string; className: string | null }[] {
  const top = listFolder(dir);
  if (top.images.length > 0 && top.folders.length > 0) {
    throw new PixelCNNError(
      'ERR_DATA',
      `${dir} holds both PNG files and folders (${top.folders.slice(0, 3).join(', ')}): give a folder of images, or a folder of class folders of images`,
    );
  }
  if (top.images.length > 0) return top.images.map((name) => ({ file: path.join(dir, name), className: null }));
  if (top.folders.length === 0) throw new PixelCNNError('ERR_DATA', `${dir} holds no PNG images`);
  return top.folders.flatMap((className) => {
    const folder = path.join(dir, className);
    const inner = listFolder(folder);
    if (inner.folders.length > 0) {
      throw new PixelCNNError('ERR_DATA', `${folder} holds folders (${inner.folders.slice(0, 3).join(', ')}): a class folder holds PNG images only`);
    }
    if (inner.images.length === 0) throw new PixelCNNError('ERR_DATA', `the class folder ${folder} holds no PNG images`);
    return inner.images.map((name) => ({ file: path.join(folder, name), className: className.normalize('NFC') }));
  });
}

/** An image as the planes it needs: gray or R, G, B, then alpha where some pixel is not opaque. */
interface DecodedImage {
  file: string;
  planes: Uint8Array;
  /** Some pixel has R, G and B unequal: the planes start R, G, B (else one gray plane). */
  color: boolean;
  /** Some pixel is not opaque: the last plane is alpha. */
  alpha: boolean;
}

/** RGBA interleaved → the planes the image needs. */
function toPlanes(file: string, rgba: Uint8Array): DecodedImage {
  const plane = rgba.length / 4;
  let color = false;
  let alpha = false;
  for (let i = 0; i < rgba.length && !(color && alpha); i += 4) {
    color ||= rgba[i] !== rgba[i + 1] || rgba[i] !== rgba[i + 2];
    alpha ||= rgba[i + 3] !== 255;
  }
  const components = [...(color ? [0, 1, 2] : [0]), ...(alpha ? [3] : [])];
  const planes = new Uint8Array(components.length * plane);
  components.forEach((component, c) => {
    for (let i = 0; i < plane; i++) planes[c * plane + i] = rgba[4 * i + component];
  });
  return { file, planes, color, alpha };
}

/** The image's planes in `channels` (it must not lose anything in them), written to `out`. */
function writeChannels(image: DecodedImage, channels: number, out: Uint8Array): void {
  const plane = out.length / channels;
  const colorPlanes = channels >= 3 ? 3 : 1;
  for (let c = 0; c < colorPlanes; c++) {
    const from = image.color ? c : 0; // gray fills R, G and B
    out.set(image.planes.subarray(from * plane, (from + 1) * plane), c * plane);
  }
  if (colorPlanes === channels) return;
  const alpha = out.subarray(colorPlanes * plane);
  if (image.alpha) alpha.set(image.planes.subarray((image.color ? 3 : 1) * plane));
  else alpha.fill(255);
}

/** ERR_DATA unless `values` bytes fit one array. */
function checkFits(values: number, dir: string, what: string): void {
  if (values > bufferConstants.MAX_LENGTH) {
    throw new PixelCNNError('ERR_DATA', `${dir}: ${what} make ${values} bytes, more than one array holds (${bufferConstants.MAX_LENGTH})`);
  }
}

function checkChannels(channels: number | undefined): void {
  if (channels !== undefined && !Object.hasOwn(CHANNEL_NAMES, channels)) {
    throw new PixelCNNError('ERR_ARG', `loadImageFolder: channels must be 1, 2, 3 or 4, got ${String(channels)}`);
  }
}

/** ERR_DATA where `file` (every image must be of its size) is not of the size asked for; ERR_ARG for a size that is not one. */
function checkFirstSize(file: string, { height, width }: ImageFolderOptions): void {
  if (height === undefined && width === undefined) return;
  if (!Number.isSafeInteger(height) || !Number.isSafeInteger(width) || height! < 1 || width! < 1) {
    throw new PixelCNNError('ERR_ARG', `loadImageFolder: height and width must be given together, as integers ≥ 1, got ${String(height)} and ${String(width)}`);
  }
  const size = declaredPngSize(file, readPngBytes(file, { pipes: false }));
  if (size.width !== width || size.height !== height) {
    throw new PixelCNNError('ERR_DATA', `${file} is ${size.width}×${size.height} pixels, and the images must be ${width}×${height}`);
  }
}

/** Reads every PNG image of `dir` (see the file's comment for the layouts) into a dataset. */
export function loadImageFolder(dir: string, folderOptions?: ImageFolderOptions): ImageDataset {
  const options = optionsObject(folderOptions, 'loadImageFolder: options');
  if (typeof dir !== 'string' || dir.length === 0) {
    throw new PixelCNNError('ERR_ARG', `loadImageFolder: the folder must be a non-empty string, got ${String(dir)}`);
  }
  checkChannels(options.channels);
  const given = checkClassNames(options.classNames, options.classNames?.length ?? 0, 'ERR_ARG', 'loadImageFolder');
  const files = imageFiles(dir);
  checkFirstSize(files[0].file, options);
  const labeled = files[0].className !== null;
  const classNames = labeled ? given ?? [...new Set(files.map((f) => f.className!))] : null;
  const labelOf = new Map(classNames?.map((name, label) => [name.normalize('NFC'), label]));
  const unknown = files.find((f) => labeled && !labelOf.has(f.className!));
  if (unknown) {
    const shown = classNames!.slice(0, 10).map((n) => JSON.stringify(n)).join(', ') + (classNames!.length > 10 ? ', …' : '');
    throw new PixelCNNError('ERR_DATA', `${dir}: the class folder ${JSON.stringify(unknown.className)} is none of the classes ${shown}`);
  }

  const images: DecodedImage[] = [];
  let width = 0;
  let height = 0;
  for (const { file } of files) {
    const bytes = readPngBytes(file, { pipes: false }); // found in a folder, not named by the user
    const size = declaredPngSize(file, bytes);
    if (images.length === 0) {
      ({ width, height } = size);
      checkFits(files.length * (options.channels ?? 1) * height * width, dir, `${files.length} images of ${width}×${height} pixels`);
    } else if (size.width !== width || size.height !== height) {
      throw new PixelCNNError(
        'ERR_DATA',
        `${file} is ${size.width}×${size.height} pixels, but ${images[0].file} is ${width}×${height}: every image must have the same size`,
      );
    }
    images.push(toPlanes(file, decodePngPixels(file, bytes)));
  }

  const channels = options.channels ?? (images.some((i) => i.color) ? 3 : 1) + (images.some((i) => i.alpha) ? 1 : 0);
  const keepsColor = channels >= 3;
  const keepsAlpha = channels % 2 === 0;
  const lossy = images.find((i) => (i.color && !keepsColor) || (i.alpha && !keepsAlpha));
  if (lossy) {
    const what = lossy.color && !keepsColor ? 'color' : 'transparent pixels';
    throw new PixelCNNError(
      'ERR_DATA',
      `${lossy.file} has ${what}, which ${channels} channel${channels > 1 ? 's' : ''} (${CHANNEL_NAMES[channels]}) cannot hold`,
    );
  }

  const size = channels * height * width;
  checkFits(images.length * size, dir, `${images.length} images of ${channels}×${height}×${width}`);
  const pixels = new Uint8Array(images.length * size);
  images.forEach((image, n) => writeChannels(image, channels, pixels.subarray(n * size, (n + 1) * size)));
  const labels = Int32Array.from(files, (f) => (labeled ? labelOf.get(f.className!)! : -1));
  const imageNames = files.map((f) => path.relative(dir, f.file));
  return createDataset(
    { images: pixels, labels, count: images.length, channels, height, width, classes: classNames?.length ?? 0, classNames, imageNames },
    dir,
  );
}
