/** `gated-pixelcnn info`: the backend in use and why, and what this build offers; or what a checkpoint holds. */
import type { Command } from 'commander';

import { backendReport } from '../backend/load';
import { checkpointInfo, describeCheckpoint } from './checkpoint-info';
import { packageVersion } from './package-version';
import { fileName } from './parse';
import { terminalSafe, terminalSafeJson } from './terminal-text';

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('show the version, the backend in use and why, and the build features; with --checkpoint, what a checkpoint holds')
    .option('--checkpoint <file>', 'describe this checkpoint instead: its model, class names and training state', fileName('--checkpoint'))
    .option('--json', 'print as JSON')
    .action((flags: { json?: boolean; checkpoint?: string }) => {
      if (flags.checkpoint !== undefined) {
        const info = checkpointInfo(flags.checkpoint);
        process.stdout.write((flags.json ? terminalSafeJson(info) : terminalSafe(describeCheckpoint(info).join('\n'))) + '\n');
        return;
      }
      const report = backendReport();
      if (flags.json) {
        process.stdout.write(terminalSafeJson({ version: packageVersion, ...report }) + '\n');
        return;
      }
      const lines = [`backend: ${report.chosen} (${report.reason})`];
      for (const c of report.candidates) lines.push(`  ${c.name}: ${c.available ? 'available' : 'unavailable'} — ${c.detail}`);
      lines.push(`gated-pixelcnn ${packageVersion}, node ${process.version}, ${process.platform}-${process.arch}`);
      process.stdout.write(lines.join('\n') + '\n');
    });
}
