/**
 * Text for a terminal. A checkpoint's class names and the file names in a report or an
 * error may hold control characters (an escape sequence can move the cursor, retitle the
 * window or hide text) or bidirectional overrides (which reorder what is shown); they
 * are written as \u{…} escapes, so that what is printed is what is there.
 */
const UNSAFE = /[\p{Cc}\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/gu;

/**
 * `value` as JSON for a terminal: JSON.stringify escapes only U+0000–U+001F, so C1
 * controls and bidirectional overrides are escaped too (\uXXXX: still the same JSON).
 */
export function terminalSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(UNSAFE, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** `text` with each unsafe character escaped; line feeds kept unless `oneLine`. */
export function terminalSafe(text: string, { oneLine = false } = {}): string {
  return text.replace(UNSAFE, (char) =>
    char === '\n' && !oneLine ? char : `\\u{${char.codePointAt(0)!.toString(16).toUpperCase()}}`,
  );
}
