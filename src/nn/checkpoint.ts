/**
 * Checkpoints in the safetensors layout of SPEC.md §8: the model's F32 tensors by
 * their spec names, the configuration in `__metadata__`, and optional extras
 * (training state under names beginning `optimizer.`, the class names as a JSON array
 * under "classNames", more metadata). Reading
 * checks the file against its own configuration: every tensor present, none extra,
 * F32, the right shape; anything else is ERR_CHECKPOINT with the reason.
 */

import { checkClassNames } from '../data/class-names';
import { PixelCNNError, shown } from '../errors';
import { writeFileAtomicSync } from '../io/atomic-write';
import { readRegularFile } from '../io/read-regular-file';
import {
  decodeSafetensors, encodeSafetensors, rawTensor, toFloat32, type RawTensor,
} from '../io/safetensors';
import { CONFIG_KEYS, resolveConfig, type ModelConfig } from './config';
import { checkFiniteWeights } from './finite-weights';
import { parameterShapes, sameShape } from './layout';

export const CHECKPOINT_FORMAT = 'gated-pixelcnn';
export const CHECKPOINT_VERSION = '1';
const OPTIMIZER_PREFIX = 'optimizer.';
const CLASS_NAMES_KEY = 'classNames';

export interface CheckpointExtras {
  /** Extra tensors; their names must begin with `optimizer.`. */
  tensors?: Map<string, RawTensor>;
  /** Extra metadata entries (strings), beside format, version, config and classNames. */
  metadata?: Record<string, string>;
  /** The name of each class of a class-conditional model, when known. */
  classNames?: readonly string[] | null;
}

export interface Checkpoint {
  config: ModelConfig;
  weights: Map<string, Float32Array>;
  extras: Required<CheckpointExtras>;
}

export function encodeCheckpoint(
  config: ModelConfig,
  weights: Map<string, Float32Array>,
  extras: CheckpointExtras = {},
): Uint8Array {
  config = resolveConfig(config);
  const shapes = parameterShapes(config);
  const unexpected = [...weights.keys()].filter((name) => !shapes.has(name));
  if (unexpected.length > 0) {
    throw new PixelCNNError('ERR_ARG', `weights not in this configuration: ${unexpected.join(', ')}`);
  }
  const tensors = new Map<string, RawTensor>();
  for (const [name, shape] of shapes) {
    const values = weights.get(name);
    if (!values) throw new PixelCNNError('ERR_ARG', `the weights lack ${name}`);
    tensors.set(name, rawTensor(values, shape));
  }
  checkFiniteWeights(weights, 'ERR_ARG', 'checkpoint');
  for (const [name, tensor] of extras.tensors ?? []) {
    if (!name.startsWith(OPTIMIZER_PREFIX)) {
      throw new PixelCNNError('ERR_ARG', `extra checkpoint tensor ${name} must begin with "${OPTIMIZER_PREFIX}"`);
    }
    tensors.set(name, tensor);
  }
  const configJson = JSON.stringify(Object.fromEntries(CONFIG_KEYS.map((k) => [k, config[k]])));
  const classNames = checkClassNames(extras.classNames, config.classes, 'ERR_ARG', 'checkpoint');
  if (extras.metadata && Object.hasOwn(extras.metadata, CLASS_NAMES_KEY)) {
    throw new PixelCNNError('ERR_ARG', `give class names as extras.classNames, not as metadata "${CLASS_NAMES_KEY}"`);
  }
  for (const [key, value] of Object.entries(extras.metadata ?? {})) {
    if (typeof value !== 'string') throw new PixelCNNError('ERR_ARG', `metadata "${key}" must be a string, got ${typeof value}`);
  }
  return encodeSafetensors({
    metadata: {
      ...extras.metadata,
      ...(classNames ? { [CLASS_NAMES_KEY]: JSON.stringify(classNames) } : {}),
      format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, config: configJson,
    },
    tensors,
  });
}

/** A checkpoint's path must be a name: Node would take a number as an open file descriptor (0: stdin). */
function checkPathArgument(path: unknown): void {
  if (typeof path !== 'string' || path === '') {
    throw new PixelCNNError('ERR_ARG', `a checkpoint's path must be a non-empty string, got ${shown(path)}`);
  }
}

export function writeCheckpoint(
  path: string,
  config: ModelConfig,
  weights: Map<string, Float32Array>,
  extras?: CheckpointExtras,
): void {
  checkPathArgument(path);
  writeFileAtomicSync(path, encodeCheckpoint(config, weights, extras));
}

export function decodeCheckpoint(bytes: Uint8Array): Checkpoint {
  const file = decodeSafetensors(bytes);
  const { format, version, config: configJson, [CLASS_NAMES_KEY]: classNamesJson, ...metadata } = file.metadata;
  if (format === undefined) {
    throw new PixelCNNError('ERR_CHECKPOINT', `the file has no "format" in its __metadata__: not a gated-pixelcnn checkpoint (SPEC.md §8)`);
  }
  if (format !== CHECKPOINT_FORMAT) {
    throw new PixelCNNError('ERR_CHECKPOINT', `metadata format is ${JSON.stringify(format)}, expected "${CHECKPOINT_FORMAT}"`);
  }
  if (version !== CHECKPOINT_VERSION) {
    throw new PixelCNNError('ERR_CHECKPOINT', `checkpoint version ${JSON.stringify(version)} is not supported (expected "${CHECKPOINT_VERSION}")`);
  }
  const config = parseConfig(configJson);
  const expected = parameterShapes(config);
  const weights = new Map<string, Float32Array>();
  const extraTensors = new Map<string, RawTensor>();
  for (const [name, tensor] of file.tensors) {
    if (name.startsWith(OPTIMIZER_PREFIX)) {
      extraTensors.set(name, tensor);
      continue;
    }
    const shape = expected.get(name);
    if (!shape) throw new PixelCNNError('ERR_CHECKPOINT', `unexpected tensor ${name} for this configuration`);
    if (tensor.dtype !== 'F32') {
      throw new PixelCNNError('ERR_CHECKPOINT', `tensor ${name} has dtype ${tensor.dtype}, expected F32`);
    }
    if (!sameShape(tensor.shape, shape)) {
      throw new PixelCNNError('ERR_CHECKPOINT', `tensor ${name} has shape [${tensor.shape}], expected [${shape}]`);
    }
    weights.set(name, toFloat32(tensor, name));
  }
  const missing = [...expected.keys()].filter((name) => !weights.has(name));
  if (missing.length > 0) {
    throw new PixelCNNError('ERR_CHECKPOINT', `missing tensors: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`);
  }
  checkFiniteWeights(weights, 'ERR_CHECKPOINT', 'tensor');
  const classNames = parseClassNames(classNamesJson, config);
  return { config, weights, extras: { tensors: extraTensors, metadata, classNames } };
}

export function readCheckpoint(path: string): Checkpoint {
  checkPathArgument(path);
  let bytes: Uint8Array;
  try {
    bytes = readRegularFile(path);
  } catch (error) {
    throw new PixelCNNError('ERR_IO', `cannot read checkpoint ${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    return decodeCheckpoint(bytes);
  } catch (error) {
    if (error instanceof PixelCNNError && error.code === 'ERR_CHECKPOINT') {
      throw new PixelCNNError('ERR_CHECKPOINT', `${path}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

function parseClassNames(json: string | undefined, config: ModelConfig): readonly string[] | null {
  if (json === undefined) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new PixelCNNError('ERR_CHECKPOINT', `metadata "${CLASS_NAMES_KEY}" is not valid JSON`);
  }
  return checkClassNames(parsed, config.classes, 'ERR_CHECKPOINT', `metadata "${CLASS_NAMES_KEY}"`);
}

function parseConfig(json: string | undefined): ModelConfig {
  if (json === undefined) throw new PixelCNNError('ERR_CHECKPOINT', 'metadata has no "config"');
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new PixelCNNError('ERR_CHECKPOINT', 'metadata "config" is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new PixelCNNError('ERR_CHECKPOINT', 'metadata "config" is not a JSON object');
  }
  const missing = CONFIG_KEYS.filter((k) => !(k in parsed));
  if (missing.length > 0) {
    throw new PixelCNNError('ERR_CHECKPOINT', `metadata "config" lacks ${missing.join(', ')}`);
  }
  try {
    return resolveConfig(parsed as ModelConfig);
  } catch (error) {
    throw new PixelCNNError('ERR_CHECKPOINT', `metadata "config" is invalid: ${(error as Error).message}`);
  }
}
