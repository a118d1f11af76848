/**
 * The model configuration of SPEC.md §2 (these names are the JSON keys stored in
 * checkpoints), its validation, and the presets.
 */
import { PixelCNNError, kindOf, shown } from '../errors';
import { parameterShapes, shapeSize } from './layout';

export interface ModelConfig {
  /** C: channels per pixel (1 for MNIST, 3 for RGB). */
  channels: number;
  height: number;
  width: number;
  /** K: levels per sub-pixel, 2…256. */
  levels: number;
  /** p: feature maps per stack. */
  hidden: number;
  /** L: gated blocks, the first included. */
  layers: number;
  /** n0: the first block's kernel size (odd, ≥ 3). */
  firstKernel: number;
  /** n: the other blocks' kernel size (odd, ≥ 3). */
  kernel: number;
  /** s: skip channels. */
  skip: number;
  /** q: the output head's width. */
  headHidden: number;
  /** N: class labels (0 = unconditional). */
  classes: number;
  /** Length of a global conditioning vector (0 = none). */
  condDim: number;
  /** Channels of a spatial conditioning map [S, H, W] (0 = none). */
  spatialCond: number;
}

export const CONFIG_KEYS: readonly (keyof ModelConfig)[] = [
  'channels', 'height', 'width', 'levels', 'hidden', 'layers', 'firstKernel', 'kernel',
  'skip', 'headHidden', 'classes', 'condDim', 'spatialCond',
];

/** Defaults for keys a caller leaves out; `skip` defaults to `hidden`. */
const DEFAULTS: Omit<ModelConfig, 'skip' | 'channels' | 'height' | 'width'> = {
  levels: 256,
  hidden: 64,
  layers: 5,
  firstKernel: 7,
  kernel: 3,
  headHidden: 32,
  classes: 0,
  condDim: 0,
  spatialCond: 0,
};

export type ConfigInput = Partial<ModelConfig> & Pick<ModelConfig, 'channels' | 'height' | 'width'>;

/** ERR_TYPE unless `config` is an object, for functions that take a model's configuration (model.config). */
export function requireConfigObject(config: unknown, what: string): asserts config is ModelConfig {
  if (typeof config !== 'object' || config === null) {
    throw new PixelCNNError('ERR_TYPE', `${what} must be a model configuration (model.config), got ${kindOf(config)}`);
  }
}

/** A complete, validated configuration: defaults filled in, every constraint of SPEC.md §2 checked. */
export function resolveConfig(input: ConfigInput): ModelConfig {
  if (typeof input !== 'object' || input === null) {
    throw new PixelCNNError('ERR_CONFIG', 'the model configuration must be an object');
  }
  const unknown = Object.keys(input).filter((k) => !(CONFIG_KEYS as string[]).includes(k));
  if (unknown.length > 0) {
    throw new PixelCNNError('ERR_CONFIG', `unknown configuration keys: ${unknown.join(', ')}`);
  }
  // A key given as undefined takes its default, as options do elsewhere (`{ levels: opts.levels }`).
  const given = Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined)) as Partial<ModelConfig>;
  const hidden = given.hidden ?? DEFAULTS.hidden;
  const config: ModelConfig = { ...DEFAULTS, skip: hidden, ...given } as ModelConfig;
  const rules: [keyof ModelConfig, (v: number) => boolean, string][] = [
    ['channels', (v) => v >= 1, '≥ 1'],
    ['height', (v) => v >= 1, '≥ 1'],
    ['width', (v) => v >= 1, '≥ 1'],
    ['levels', (v) => v >= 2 && v <= 256, 'in 2…256'],
    ['hidden', (v) => v >= 1, '≥ 1'],
    ['layers', (v) => v >= 1, '≥ 1'],
    ['firstKernel', (v) => v >= 3 && v % 2 === 1, 'odd and ≥ 3'],
    ['kernel', (v) => v >= 3 && v % 2 === 1, 'odd and ≥ 3'],
    ['skip', (v) => v >= 1, '≥ 1'],
    ['headHidden', (v) => v >= 1, '≥ 1'],
    ['classes', (v) => v >= 0, '≥ 0'],
    ['condDim', (v) => v >= 0, '≥ 0'],
    ['spatialCond', (v) => v >= 0, '≥ 0'],
  ];
  for (const [key, ok, rule] of rules) {
    const value = config[key];
    if (!Number.isSafeInteger(value) || !ok(value)) {
      throw new PixelCNNError('ERR_CONFIG', `${key} must be an integer ${rule}, got ${shown(value)}`);
    }
  }
  checkLimits(config);
  return config;
}

/**
 * Limits of this implementation, where SPEC.md §2 sets none: each parameter is one
 * typed array, and all of them live in memory at once, so a configuration beyond these
 * is refused before anything is built (a checkpoint of a few bytes could otherwise ask
 * for a hundred million blocks).
 */
export const MAX_LAYERS = 4096;
export const MAX_TENSOR_VALUES = 2 ** 31 - 1;
export const MAX_MODEL_VALUES = 2 ** 32;

function checkLimits(config: ModelConfig): void {
  if (config.layers > MAX_LAYERS) {
    throw new PixelCNNError('ERR_CONFIG', `layers must be at most ${MAX_LAYERS} in this implementation, got ${config.layers}`);
  }
  // One image's logits, and a block's gate input, are tensors of their own; an image too
  // large for them could be built but never computed.
  const { channels, levels, hidden, height, width } = config;
  const perImage = height * width * Math.max(channels * levels, 2 * hidden);
  if (perImage > MAX_TENSOR_VALUES) {
    throw new PixelCNNError(
      'ERR_CONFIG',
      `${height}×${width} images would need tensors of ${perImage} values for one image, more than this implementation's ${MAX_TENSOR_VALUES}`,
    );
  }
  let total = 0;
  for (const [name, shape] of parameterShapes(config)) {
    const values = shapeSize(shape);
    if (values > MAX_TENSOR_VALUES) {
      throw new PixelCNNError('ERR_CONFIG', `${name} would hold ${values} values, more than this implementation's ${MAX_TENSOR_VALUES}`);
    }
    total += values;
  }
  if (total > MAX_MODEL_VALUES) {
    throw new PixelCNNError('ERR_CONFIG', `the model would hold ${total} parameters, more than this implementation's ${MAX_MODEL_VALUES}`);
  }
}

/** Named configurations (frozen: a change anywhere in the process would change every later model of the name). */
export const PRESETS = freezePresets({
  /**
   * Small enough to train into recognizable digits on 2 CPU cores in 10 to 20 minutes
   * (4,000 steps of 32, as scripts/main-job.sh trains it). Chosen by experiment: with
   * kernel 3 (receptive radius 7) the strokes are right but whole digits often are not;
   * kernel 5 (radius 11) draws them.
   */
  'mnist-tiny': {
    channels: 1, height: 28, width: 28, levels: 4, hidden: 32, layers: 5, firstKernel: 7,
    kernel: 5, skip: 32, headHidden: 32, classes: 10, condDim: 0, spatialCond: 0,
  },
  /** The quick model of the 2017 blog post: 4 levels, p 128, 5 blocks, q 16. */
  'mnist-quick': {
    channels: 1, height: 28, width: 28, levels: 4, hidden: 128, layers: 5, firstKernel: 7,
    kernel: 3, skip: 128, headHidden: 16, classes: 10, condDim: 0, spatialCond: 0,
  },
  /** Its 256-way model: 256 levels, p 128, 8 blocks, q 16. */
  'mnist-256': {
    channels: 1, height: 28, width: 28, levels: 256, hidden: 128, layers: 8, firstKernel: 7,
    kernel: 3, skip: 128, headHidden: 16, classes: 10, condDim: 0, spatialCond: 0,
  },
} as const satisfies Record<string, ModelConfig>);

function freezePresets<T extends Record<string, ModelConfig>>(presets: T): T {
  for (const preset of Object.values(presets)) Object.freeze(preset);
  return Object.freeze(presets);
}

export type PresetName = keyof typeof PRESETS;

export function presetConfig(name: string): ModelConfig {
  if (!Object.hasOwn(PRESETS, name)) {
    throw new PixelCNNError(
      'ERR_CONFIG', `unknown preset '${name}' (choose from ${Object.keys(PRESETS).join(', ')})`,
    );
  }
  return { ...PRESETS[name as PresetName] };
}
