/**
 * The model a command works with. The commands read datasets of images and labels, and
 * sample from labels alone, so a model conditioned on global vectors or spatial maps
 * is refused before any data loads, with a pointer to the API, which takes them.
 */
import type { BackendName } from '../backend/load';
import { readCheckpoint } from '../nn/checkpoint';
import { GatedPixelCNN } from '../nn/gated-pixelcnn';
import { averagedWeightsOf } from '../optim/weight-average';
import { trainingDataOf, type DataSummary } from '../train/training-state';
import { CliError } from './parse';

/** Refuses `what` (a model, a configuration) when it conditions on what the command line cannot give. */
export function refuseConditioned(config: { condDim: number; spatialCond: number }, what: string): void {
  if (config.condDim === 0 && config.spatialCond === 0) return;
  throw new CliError(
    `${what} is conditioned on global vectors or spatial maps (condDim ${config.condDim}, spatialCond ${config.spatialCond}), ` +
      'which the command line cannot give (its datasets hold images and labels only): use the API, whose datasets and model.sample() take them',
  );
}

/** A command's model, with what its file says of the run that wrote it. */
export interface CommandModel {
  model: GatedPixelCNN;
  /** The weights are the run's moving average (a checkpoint of a run with --ema), as its evaluations used. */
  averaged: boolean;
  /**
   * The run's training set (null where the file has no summary of it), read when asked
   * for (eval and complete, for --test-fraction), so that sample never fails on it.
   */
  trainedOn(): DataSummary | null;
}

/**
 * The model of `checkpoint` on `backend`, for eval, sample and complete: from a run's
 * checkpoint.safetensors with --ema, its weights' average, which the run evaluated and
 * wrote to model.safetensors (its raw weights are for resuming).
 */
export function loadCommandModel(checkpoint: string, backend: BackendName): CommandModel {
  const read = readCheckpoint(checkpoint);
  refuseConditioned(read.config, `the model ${checkpoint}`);
  const averaged = averagedWeightsOf(read, checkpoint);
  const model = GatedPixelCNN.fromWeights(read.config, averaged ?? read.weights, backend, read.extras.classNames);
  // The metadata alone is kept for trainedOn(): not the weights, nor the optimizer's state.
  const metadataOnly = { config: read.config, weights: new Map(), extras: { ...read.extras, tensors: new Map() } };
  return { model, averaged: averaged !== null, trainedOn: () => trainingDataOf(metadataOnly, checkpoint) };
}

/** The line a command writes about its weights when they are a run's average. */
export function averagedNote(checkpoint: string): string {
  return `using the weights' moving average in ${checkpoint} (the run's --ema), as its evaluations did\n`;
}
