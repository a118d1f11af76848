/** --labels with class names, and --per-class's file names: what each list resolves to, and what is refused. */
import { describe, expect, it } from 'vitest';

import { labelList, resolveLabels, type LabelArgument } from '../../src/cli/labels';
import { perClassFiles } from '../../src/cli/sample-command';
import { describeClassNames } from '../../src/data/class-names';

/** The labels of --labels given once for each of `values`, as commander reads a repeated option. */
const resolve = (value: string | string[], names: string[] | null) =>
  resolveLabels([value].flat().reduce<LabelArgument[]>((list, v) => labelList(v, list), []), names);

describe('--labels', () => {
  it('takes numbers and ranges as labels, and names as classes', () => {
    expect(resolve('0-2,5', null)).toEqual([0, 1, 2, 5]);
    expect(resolve('fox, 0 ,dog', ['cat', 'dog', 'fox'])).toEqual([2, 0, 1]);
    expect(() => resolve('wolf', ['cat', 'dog'])).toThrow(/"wolf" is not a class of this model \(its classes: cat, dog\)/);
    expect(() => resolve('cat', null)).toThrow(/"cat" is not a label: this model's classes have no names/);
    expect(() => resolve('1,,2', null)).toThrow(/labels must look like/);
    expect(() => resolve('3-1', ['a', 'b', 'c', 'd'])).toThrow(/label range "3-1" runs backwards/);
  });

  it('adds up repeated --labels, and counts them together against the limit', () => {
    expect(resolve(['fox', '0-1', 'fox'], ['cat', 'dog', 'fox'])).toEqual([2, 0, 1, 2]);
    expect(() => resolve(['0-40000', '0-40000'], null)).toThrow(/labels must be at most 65536/);
  });

  it('takes a whole argument that is a class\'s name, commas and all, before its parts', () => {
    const names = ['red, green', 'blue', 'red', 'green'];
    expect(resolve('red, green', names)).toEqual([0]);
    expect(resolve('red,green', names)).toEqual([2, 3]);
    expect(resolve(['red, green', 'blue'], names)).toEqual([0, 1]);
    // Listed, such a name is quoted, so that it reads as one class.
    expect(() => resolve('purple', names)).toThrow(/its classes: "red, green", blue, red, green\)/);
    expect(describeClassNames([...names, ' cyan', ''])).toBe('0 "red, green", 1 blue, 2 red, 3 green, 4 " cyan", 5 ""');
    // A malformed list is refused only when no class has it as its name.
    expect(resolve('a,,b', ['a,,b', 'c'])).toEqual([0]);
    expect(() => resolve('a,,c', ['a,,b', 'c'])).toThrow(/labels must look like/);
  });

  it('takes a class\'s exact name first, whatever it looks like', () => {
    expect(resolve('0-2,6-9', ['0-2', '3-5', '6-9'])).toEqual([0, 2]); // age groups, not ranges
    expect(resolve('01', ['01', 'cat'])).toEqual([0]);
    expect(resolve('1', ['1', 'cat'])).toEqual([0]);
  });

  it('takes numbers as class numbers where every class is named by a number (folders 1, 2, 3 or 00, 01, 02)', () => {
    expect(resolve('1,3', ['1', '2', '3'])).toEqual([0, 2]);
    expect(resolve('2-3', ['1', '2', '3'])).toEqual([1, 2]);
    expect(() => resolve('0', ['1', '2', '3'])).toThrow(/no single class of this model is numbered 0 \(its classes: 1, 2, 3\)/);
    expect(resolve('0-2', ['00', '01', '02'])).toEqual([0, 1, 2]);
    expect(resolve('1', ['00', '01', '02'])).toEqual([1]);
    expect(() => resolve('1-2', ['01', '1', '2'])).toThrow(/no single class of this model is numbered 1/); // 01 or 1?
    expect(resolve('0-9', Array.from({ length: 10 }, (_, y) => String(y)))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('refuses a number that is the label of one class and the number of another', () => {
    expect(() => resolve('1', ['01', 'cat'])).toThrow(/"1" is ambiguous: label 1, and the number of class 0 \(01\)/);
    expect(resolve('0,cat', ['01', 'cat'])).toEqual([0, 1]);
  });
});

describe('--per-class file names', () => {
  it('are the class names where all fit a file name, else the labels', () => {
    expect([...perClassFiles('out/s.png', [2, 0, 2], ['cat', 'dog', 'fox'])]).toEqual([[2, 'out/s-fox.png'], [0, 'out/s-cat.png']]);
    expect([...perClassFiles('s.png', [0, 1], null)]).toEqual([[0, 's-0.png'], [1, 's-1.png']]);
    // A name with a backslash, one that would hide the file, or a long one: labels for all, so that no two collide.
    expect([...perClassFiles('s.png', [0, 1], ['Cat', 'cat']).values()]).toEqual(['s-0.png', 's-1.png']); // one file where case is ignored
    for (const odd of ['a\\b', '.hidden', 'x'.repeat(101), '../up']) {
      expect([...perClassFiles('s.png', [0, 1], ['1', odd]).values()], odd).toEqual(['s-0.png', 's-1.png']);
    }
  });
});
