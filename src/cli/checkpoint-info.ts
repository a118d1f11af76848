/**
 * `gated-pixelcnn info --checkpoint FILE`: what a checkpoint holds, without building a
 * model: its configuration and size, its class names, and the run that wrote it.
 */
import { describeClassNames } from '../data/class-names';
import { readCheckpoint } from '../nn/checkpoint';
import type { ModelConfig } from '../nn/config';
import { trainingRunOf, type TrainingRun } from '../train/training-state';
import { counted } from './wording';

export interface CheckpointInfo {
  checkpoint: string;
  config: ModelConfig;
  parameters: number;
  classNames: readonly string[] | null;
  training: TrainingRun | null;
}

export function checkpointInfo(file: string): CheckpointInfo {
  const checkpoint = readCheckpoint(file);
  const parameters = [...checkpoint.weights.values()].reduce((n, values) => n + values.length, 0);
  return {
    checkpoint: file, config: checkpoint.config, parameters,
    classNames: checkpoint.extras.classNames, training: trainingRunOf(checkpoint, file),
  };
}

/** "42 s", "12.5 min", "3.2 h". */
function duration(seconds: number): string {
  if (seconds < 90) return `${seconds.toFixed(0)} s`;
  return seconds < 5400 ? `${(seconds / 60).toFixed(1)} min` : `${(seconds / 3600).toFixed(1)} h`;
}

/** The info as lines for a terminal. */
export function describeCheckpoint(info: CheckpointInfo): string[] {
  const c = info.config;
  const conditioning = [
    c.classes ? counted(c.classes, 'class', 'classes') : '', c.condDim ? `vectors of ${c.condDim}` : '', c.spatialCond ? `${c.spatialCond} spatial maps` : '',
  ].filter(Boolean);
  const lines = [
    info.checkpoint,
    `model: ${c.channels}×${c.height}×${c.width} images of K=${c.levels} levels; p ${c.hidden}, ${counted(c.layers, 'block')}, ` +
      `kernels ${c.firstKernel} / ${c.kernel}, skip ${c.skip}, head ${c.headHidden}; ` +
      `${conditioning.length ? conditioning.join(', ') : 'unconditional'}; ${info.parameters.toLocaleString('en')} parameters`,
  ];
  if (info.classNames) lines.push(`labels: ${describeClassNames(info.classNames)}`);
  const run = info.training;
  if (!run) {
    lines.push('training state: none (a model file; resume from checkpoint.safetensors)');
    return lines;
  }
  const s = run.settings;
  const schedule = `${s.schedule.kind}${s.schedule.warmupSteps ? `, warm-up ${s.schedule.warmupSteps}` : ''}`;
  const budget = Object.entries(s.budget).filter(([, v]) => v !== undefined).map(([unit, n]) => counted(n as number, unit.replace(/s$/, ''), unit)).join(' or ');
  lines.push(
    `training state: step ${run.step} after ${duration(run.elapsedSeconds)}; batch ${s.batchSize}, ` +
      `lr ${s.optimizer.lr} (${schedule}), budget ${budget}, seed ${s.seed}${s.ema ? `, ema ${s.ema}` : ''}` +
      (run.data ? `; trained on ${run.data.count} images` : ''),
  );
  return lines;
}
