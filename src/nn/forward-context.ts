/**
 * What one forward (and backward) pass shares across the blocks: the backend,
 * the parameters, the batch's input x̃ and its conditioning tensors.
 */
import type { Backend } from '../backend/backend';
import type { Tensor } from '../tensor';
import type { ModelConfig } from './config';
import type { ParameterSet } from './parameters';

export interface ForwardContext {
  backend: Backend;
  config: ModelConfig;
  params: ParameterSet;
  batch: number;
  /** x̃ = 2x/(K−1) − 1, [B, C, H, W]. */
  input: Tensor;
  /** Class labels, int32 [B] (when classes > 0). */
  labels: Tensor | null;
  /** Global conditioning vectors [B, condDim] (when condDim > 0). */
  vectors: Tensor | null;
  /** Spatial conditioning maps [B, S, H, W] (when spatialCond > 0). */
  spatial: Tensor | null;
}

/** Disposes every tensor given, skipping null and undefined. */
export function disposeAll(...tensors: (Tensor | null | undefined)[]): void {
  for (const t of tensors) t?.dispose();
}
