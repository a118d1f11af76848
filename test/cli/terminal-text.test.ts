/** Text for a terminal: control characters and bidirectional overrides from class names or file names are shown escaped, never obeyed. */
import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { terminalSafe } from '../../src/cli/terminal-text';
import { GatedPixelCNN } from '../../src/nn/gated-pixelcnn';
import { cpu } from '../helpers/backend';
import { runCli } from '../helpers/cli';

const UNSAFE = /[\p{Cc}\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u;

describe('terminalSafe', () => {
  it('escapes every control character and bidirectional override, keeps line feeds unless oneLine, and leaves the rest as it is', () => {
    const char = fc.oneof(
      fc.integer({ min: 0, max: 0x9f }).map((c) => String.fromCodePoint(c)),
      fc.constantFrom('\u202E', '\u2066', '\u200F', '\u061C', 'é', '猫', '🐈', '\\'),
    );
    fc.assert(fc.property(fc.array(char, { maxLength: 30 }).map((chars) => chars.join('')), (text) => {
      const oneLine = terminalSafe(text, { oneLine: true });
      expect(oneLine).not.toMatch(UNSAFE);
      expect(terminalSafe(text)).toBe(text.split('\n').map((line) => terminalSafe(line, { oneLine: true })).join('\n'));
      // Each escaped character becomes its code point; everything else is untouched.
      const unescaped = oneLine.replace(/\\u\{([0-9A-F]+)\}/g, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16)));
      if (!text.includes('\\u{')) expect(unescaped).toBe(text);
      if (!UNSAFE.test(text)) expect(oneLine).toBe(text);
    }));
    expect(terminalSafe('\x1b]0;owned\x07cat\u202Egod\nnext', { oneLine: true })).toBe('\\u{1B}]0;owned\\u{7}cat\\u{202E}god\\u{A}next');
  });

  it("shows a checkpoint's class names escaped in info and in errors", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-terminal-'));
    const checkpoint = path.join(dir, 'model.safetensors');
    const classNames = ['\x1b[2Jcat', 'dog\u202E\u009B31m'];
    const model = GatedPixelCNN.create({ channels: 1, height: 4, width: 4, levels: 4, hidden: 4, layers: 1, classes: 2 }, { backend: cpu, classNames });
    model.save(checkpoint);
    model.dispose();
    const info = runCli('info', '--checkpoint', checkpoint);
    expect(info.status, info.stderr).toBe(0);
    expect(info.stdout).toContain('labels: 0 \\u{1B}[2Jcat, 1 dog\\u{202E}\\u{9B}31m\n');
    for (const line of info.stdout.split('\n')) expect(line).not.toMatch(UNSAFE);
    // As JSON too: C1 controls (U+009B is an 8-bit CSI) and overrides escaped, the same names read back.
    const json = runCli('info', '--checkpoint', checkpoint, '--json');
    expect(json.stdout.trimEnd()).not.toMatch(UNSAFE);
    expect((JSON.parse(json.stdout) as { classNames: string[] }).classNames).toEqual(classNames);
    const refused = runCli('sample', '--checkpoint', checkpoint, '--labels', 'bird\x1b[31m', '--out', path.join(dir, 'x.png'));
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/bird\\u\{1B\}\[31m/);
    expect(refused.stderr.trimEnd()).not.toMatch(UNSAFE);
  });
});
