#!/usr/bin/env node
/**
 * The gated-pixelcnn command: train, eval, sample, complete, info. Bad arguments and
 * library errors end with a one-line explanation and a non-zero exit status,
 * never a stack trace (set GATED_PIXELCNN_DEBUG=1 to see one).
 */
import { Command, CommanderError } from 'commander';

import { PixelCNNError } from '../errors';
import { registerComplete } from './complete-command';
import { registerEval } from './eval-command';
import { registerInfo } from './info-command';
import { packageVersion } from './package-version';
import { CliError } from './parse';
import { registerSample } from './sample-command';
import { registerTrain } from './train-command';
import { terminalSafe } from './terminal-text';

/** Commander's "error: …" message (perhaps with a suggestion on a second line) as one line. */
const usageError = (message: string): string =>
  `gated-pixelcnn: ${terminalSafe(message.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ').replace(/\.$/, ''), { oneLine: true })}; see --help (ERR_ARG)\n`;

export async function main(argv: string[]): Promise<number> {
  const program = new Command('gated-pixelcnn')
    .description('Conditional Gated PixelCNNs: train, evaluate, sample and complete; info on the backend and checkpoints')
    .version(packageVersion, '-V, --version', 'print the version')
    .exitOverride()
    // Commander's own errors (an unknown option, a missing value) read as ours do: one line ending in the code.
    .configureOutput({ outputError: (message, write) => write(usageError(message)) });
  registerTrain(program);
  registerEval(program);
  registerSample(program);
  registerComplete(program);
  registerInfo(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0; // a command's own status (train stopped by a signal)
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode; // commander printed the message
    if (process.env.GATED_PIXELCNN_DEBUG) console.error(error);
    const message = error instanceof Error ? error.message : String(error);
    if (!(error instanceof PixelCNNError)) {
      process.stderr.write(`gated-pixelcnn: unexpected error: ${terminalSafe(message, { oneLine: true })}\n`);
      return 2;
    }
    process.stderr.write(`gated-pixelcnn: ${terminalSafe(message, { oneLine: true })} (${error.code})\n`);
    return error instanceof CliError ? error.exitStatus : 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((status) => {
    process.exitCode = status;
  });
}
