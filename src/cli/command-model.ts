/**
 * The model a command works with. The commands read datasets of images and labels, and
 * sample from labels alone, so a model conditioned on global vectors or spatial maps
 * is refused before any data loads, with a pointer to the API, which takes them.
 */
import type { BackendName } from '../backend/load';
import { GatedPixelCNN } from '../nn/gated-pixelcnn';
import { CliError } from './parse';

/** Refuses `what` (a model, a configuration) when it conditions on what the command line cannot give. */
export function refuseConditioned(config: { condDim: number; spatialCond: number }, what: string): void {
  if (config.condDim === 0 && config.spatialCond === 0) return;
  throw new CliError(
    `${what} is conditioned on global vectors or spatial maps (condDim ${config.condDim}, spatialCond ${config.spatialCond}), ` +
      'which the command line cannot give (its datasets hold images and labels only): use the API, whose datasets and model.sample() take them',
  );
}

/** The model of `checkpoint` on `backend`, for eval, sample and complete. */
export function loadCommandModel(checkpoint: string, backend: BackendName): GatedPixelCNN {
  const model = GatedPixelCNN.load(checkpoint, { backend });
  try {
    refuseConditioned(model.config, `the model ${checkpoint}`);
  } catch (error) {
    model.dispose();
    throw error;
  }
  return model;
}
