/** `gated-pixelcnn info`: the backend in use and why, and what this build offers. */
import type { Command } from 'commander';

import { backendReport } from '../backend/load';

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('show the backend in use and why, and the build features')
    .option('--json', 'print as JSON')
    .action((flags: { json?: boolean }) => {
      const report = backendReport();
      if (flags.json) {
        process.stdout.write(JSON.stringify(report) + '\n');
        return;
      }
      const lines = [`backend: ${report.chosen} (${report.reason})`];
      for (const c of report.candidates) lines.push(`  ${c.name}: ${c.available ? 'available' : 'unavailable'} — ${c.detail}`);
      lines.push(`node ${process.version}, ${process.platform}-${process.arch}`);
      process.stdout.write(lines.join('\n') + '\n');
    });
}
