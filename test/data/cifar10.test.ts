/** CIFAR-10 binary batches: synthetic files round-trip; bad lengths and labels are refused. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { loadCifar10 } from '../../src/data/cifar10';
import { makeRng } from '../helpers/random';

const byCode = (code: string) => expect.objectContaining({ code });

describe('loadCifar10', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cifar-test-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const rng = makeRng(31);

  /** n random records: labels, [n, 3, 32, 32] pixels, and the file's bytes. */
  function records(n: number): { labels: number[]; pixels: Uint8Array; bytes: Uint8Array } {
    const labels = Array.from({ length: n }, () => Math.floor(rng() * 10));
    const pixels = Uint8Array.from({ length: n * 3072 }, () => Math.floor(rng() * 256));
    const bytes = new Uint8Array(n * 3073);
    for (let r = 0; r < n; r++) {
      bytes[r * 3073] = labels[r];
      bytes.set(pixels.subarray(r * 3072, (r + 1) * 3072), r * 3073 + 1);
    }
    return { labels, pixels, bytes };
  }
  const write = (name: string, bytes: Uint8Array): string => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, bytes);
    return p;
  };

  it('random records round-trip, files concatenated in order', () => {
    const a = records(4);
    const b = records(3);
    const ds = loadCifar10([write('data_batch_1.bin', a.bytes), write('data_batch_2.bin', b.bytes)]);
    expect([ds.count, ds.channels, ds.height, ds.width, ds.classes]).toEqual([7, 3, 32, 32, 10]);
    expect([...ds.labels]).toEqual([...a.labels, ...b.labels]);
    expect(ds.images).toEqual(Uint8Array.from([...a.pixels, ...b.pixels]));
    // Layout [N, C, H, W]: image 5's green pixel at row 7, column 30 is record 1 of file b,
    // byte 1 + 1024 + 7·32 + 30.
    expect(ds.images[5 * 3072 + 1 * 1024 + 7 * 32 + 30]).toBe(b.bytes[3073 + 1 + 1024 + 7 * 32 + 30]);
  });

  it('refuses a length that is not a whole number of records, and an empty file (ERR_DATA)', () => {
    const short = write('short.bin', records(2).bytes.subarray(0, 2 * 3073 - 1));
    expect(() => loadCifar10([short])).toThrow(byCode('ERR_DATA'));
    expect(() => loadCifar10([short])).toThrow(/short\.bin: .*3073-byte records, but it has 6145 bytes/);
    expect(() => loadCifar10([write('empty.bin', new Uint8Array(0))])).toThrow(byCode('ERR_DATA'));
  });

  it('refuses a label ≥ 10 (ERR_DATA, naming file and record)', () => {
    const { bytes } = records(3);
    bytes[2 * 3073] = 10;
    const bad = write('bad-label.bin', bytes);
    expect(() => loadCifar10([bad])).toThrow(byCode('ERR_DATA'));
    expect(() => loadCifar10([bad])).toThrow(/bad-label\.bin: record 2 has label 10/);
  });

  it('refuses no files (ERR_ARG) and a missing file (ERR_IO)', () => {
    expect(() => loadCifar10([])).toThrow(byCode('ERR_ARG'));
    expect(() => loadCifar10([path.join(dir, 'missing.bin')])).toThrow(byCode('ERR_IO'));
  });
});
