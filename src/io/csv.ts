/**
 * CSV text (RFC 4180): comma-separated fields, one record a line; a field holding a
 * comma, a double quote or a line break is quoted, its quotes doubled, so that any file
 * name survives a spreadsheet or pandas.read_csv.
 */

export type CsvField = string | number;

const quoted = (field: CsvField): string => {
  const text = String(field);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

/** The records as CSV text, each line ended by a line feed. */
export function encodeCsv(records: readonly (readonly CsvField[])[]): string {
  return records.map((record) => record.map(quoted).join(',') + '\n').join('');
}
