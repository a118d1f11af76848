/**
 * What pngjs does not check of a PNG before it decodes one: that its chunks are whole
 * and its critical chunks' checksums right, that its bit depth fits its colour type,
 * and that its image data inflates to all the bytes its size needs (pngjs gives
 * missing pixels the value 0). Also the colour key of a tRNS chunk, since pngjs
 * blackens the pixels it makes transparent (PNG only makes them transparent).
 */
import * as zlib from 'node:zlib';

import { PixelCNNError } from '../errors';

export interface PngStructure {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  /** tRNS's colour key of a gray (one sample) or RGB (three) image, in its own bit depth. */
  colorKey: number[] | null;
}

/** Samples a pixel and the bit depths allowed, by colour type (PNG §11.2.2). */
const COLOR_TYPES: Record<number, { samples: number; depths: number[]; name: string }> = {
  0: { samples: 1, depths: [1, 2, 4, 8, 16], name: 'a gray' },
  2: { samples: 3, depths: [8, 16], name: 'an RGB' },
  3: { samples: 1, depths: [1, 2, 4, 8], name: 'a palette' },
  4: { samples: 2, depths: [8, 16], name: 'a gray-with-alpha' },
  6: { samples: 4, depths: [8, 16], name: 'an RGBA' },
};

/** Adam7's passes: first column and row, then the steps between them. */
const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];

/** ERR_DATA unless `bytes` (a file that starts with a PNG signature and IHDR) is a whole, consistent PNG. */
export function checkPngStructure(file: string, bytes: Buffer): PngStructure {
  const refuse = (why: string): never => {
    throw new PixelCNNError('ERR_DATA', `${file} is not a readable PNG: ${why}`);
  };
  const chunks = readChunks(bytes, refuse);
  if (chunks[0].type !== 'IHDR') refuse('its first chunk is not IHDR');
  const header = chunks[0].data;
  if (header.length !== 13) refuse('its IHDR chunk is not 13 bytes long');
  const [width, height] = [header.readUInt32BE(0), header.readUInt32BE(4)];
  const [bitDepth, colorType, interlace] = [header[8], header[9], header[12]];
  const kind = COLOR_TYPES[colorType];
  if (!kind) refuse(`its colour type ${colorType} is none of PNG's (0, 2, 3, 4, 6)`);
  if (!kind.depths.includes(bitDepth)) refuse(`${kind.name} image cannot have ${bitDepth} bits a sample (PNG allows ${kind.depths.join(', ')})`);
  if (interlace > 1) refuse(`its interlace method ${interlace} is none of PNG's (0, 1)`);

  const compressed = Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data));
  if (compressed.length === 0) refuse('it has no image data (IDAT chunk)');
  const needed = imageDataBytes(width, height, kind.samples * bitDepth, interlace === 1);
  const tooMuch = `its image data holds more than the ${needed} bytes its size needs`; // which pngjs refuses
  let inflated: Buffer;
  try {
    // One byte beyond those needed tells too much from enough, and bounds a zip bomb.
    inflated = zlib.inflateSync(compressed, { maxOutputLength: needed + 1 });
  } catch (error) {
    return refuse((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' ? tooMuch : `its image data does not inflate (${(error as Error).message})`);
  }
  if (inflated.length > needed) refuse(tooMuch);
  if (inflated.length < needed) refuse(`its image data ends early: ${inflated.length} of the ${needed} bytes its size needs`);

  const key = chunks.find((c) => c.type === 'tRNS');
  let colorKey: number[] | null = null;
  if (key && (colorType === 0 || colorType === 2)) {
    if (key.data.length !== 2 * kind.samples) refuse(`its tRNS chunk is ${key.data.length} bytes long; ${kind.name} image's is ${2 * kind.samples}`);
    colorKey = Array.from({ length: kind.samples }, (_, i) => key.data.readUInt16BE(2 * i));
  }
  return { width, height, bitDepth, colorType, colorKey };
}

/** The bytes of image data a PNG of this size needs: each row of each pass, with its filter byte. */
function imageDataBytes(width: number, height: number, bitsPerPixel: number, interlaced: boolean): number {
  const passes = interlaced ? ADAM7 : [[0, 0, 1, 1]];
  return passes.reduce((sum, [x0, y0, dx, dy]) => {
    const [columns, rows] = [Math.ceil(Math.max(0, width - x0) / dx), Math.ceil(Math.max(0, height - y0) / dy)];
    return columns === 0 || rows === 0 ? sum : sum + rows * (1 + Math.ceil((columns * bitsPerPixel) / 8));
  }, 0);
}

/** The ancillary chunks pngjs reads: transparency and gamma. */
const READ_ANCILLARY = ['tRNS', 'gAMA'];

interface Chunk {
  type: string;
  data: Buffer;
}

/** The chunks from IHDR to IEND, each whole, those read with the right checksum. */
function readChunks(bytes: Buffer, refuse: (why: string) => never): Chunk[] {
  const chunks: Chunk[] = [];
  let at = 8; // after the signature
  while (chunks.at(-1)?.type !== 'IEND') {
    if (at + 12 > bytes.length) refuse(chunks.length > 0 ? `it ends early, after its ${chunks.at(-1)!.type} chunk, with no IEND chunk` : 'it ends early');
    const length = bytes.readUInt32BE(at);
    const type = bytes.toString('latin1', at + 4, at + 8);
    if (at + 12 + length > bytes.length) refuse(`it ends early, in its ${type} chunk`);
    const data = bytes.subarray(at + 8, at + 8 + length);
    // A reader may skip an ancillary chunk (lowercase first letter) it cannot trust, not a
    // critical one; pngjs reads two ancillary ones, and refuses them damaged.
    const critical = (type.charCodeAt(0) & 0x20) === 0;
    if ((critical || READ_ANCILLARY.includes(type)) && zlib.crc32(bytes.subarray(at + 4, at + 8 + length)) !== bytes.readUInt32BE(at + 8 + length)) {
      refuse(`its ${type} chunk's checksum (CRC) is wrong: the file is damaged`);
    }
    chunks.push({ type, data });
    at += 12 + length;
  }
  return chunks;
}
