/**
 * `train` listens for Ctrl-C and SIGTERM only while it runs: a command run in-process
 * (main() called again, as by a program embedding the CLI) starts with no listener of an
 * earlier one, which would remember that run's stop and quit this one at its first signal.
 */
import { expect, it } from 'vitest';

import { main } from '../../src/cli/main';
import { trainTiny } from '../helpers/cli';

it('removes its signal listeners when the command ends, finished or failed', async () => {
  const { args, trained } = trainTiny('gpcnn-cli-listeners-');
  expect(trained.status, trained.stderr).toBe(0);
  const counts = () => ['SIGINT', 'SIGTERM'].map((signal) => process.listenerCount(signal));
  const before = counts();
  expect(await main([...args, '--overwrite', '--steps', '2'])).toBe(0);
  expect(counts()).toEqual(before);
  expect(await main([...args, '--resume', '--lr', '5'])).toBe(1); // a changed setting: refused
  expect(counts()).toEqual(before);
});
