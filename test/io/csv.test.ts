/** encodeCsv quotes exactly the fields RFC 4180 says must be, so any file name reads back as itself. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { encodeCsv } from '../../src/io/csv';

/**
 * An RFC 4180 reader, written from the RFC for this test: fields, quoted or not, records
 * ended outside quotes by \n, \r\n or a bare \r (as spreadsheets and pandas read them).
 */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let i = 0;
  while (i < text.length) {
    let field = '';
    if (text[i] === '"') {
      for (i++; !(text[i] === '"' && text[i + 1] !== '"'); i++) {
        if (text[i] === '"') i++;
        field += text[i];
      }
      i++;
    } else {
      while (text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') field += text[i++];
    }
    record.push(field);
    const end = text[i++];
    if (end === '\r' && text[i] === '\n') i++;
    if (end === '\n' || end === '\r') {
      records.push(record);
      record = [];
    }
  }
  return records;
}

describe('encodeCsv', () => {
  it('quotes fields with commas, quotes and line breaks, and leaves others bare', () => {
    expect(encodeCsv([['index', 'image'], [0, 'cat/a.png'], [1.5, 'a,b'], [2, 'say "hi"'], [3, 'two\nlines'], [4, ''], [5, 'a\rb']]))
      .toBe('index,image\n0,cat/a.png\n1.5,"a,b"\n2,"say ""hi"""\n3,"two\nlines"\n4,\n5,"a\rb"\n');
  });

  it('reads back as the fields it was given, whatever characters they hold', () => {
    const awkward = fc.string({ unit: fc.constantFrom('a', ',', '"', '\n', '\r', ' ', 'é', '/', '0'), maxLength: 6 });
    fc.assert(fc.property(fc.array(fc.array(awkward, { minLength: 1, maxLength: 4 }), { maxLength: 20 }), (records) => {
      expect(parseCsv(encodeCsv(records))).toEqual(records);
    }));
  });
});
