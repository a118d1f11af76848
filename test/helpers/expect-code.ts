/** Asserting that a call throws an Error with a given stable code and a real message. */
import { expect } from 'vitest';

/** Runs `call`; fails unless it throws an Error with `code` and a message of some length. Returns the error. */
export function expectCode(code: string, call: () => unknown, minMessage = 10): Error & { code: string } {
  let thrown: unknown;
  try {
    call();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, 'expected an error').toBeInstanceOf(Error);
  const error = thrown as Error & { code: string };
  expect(error.code, error.message).toBe(code);
  expect(error.message.length).toBeGreaterThan(minMessage);
  return error;
}
