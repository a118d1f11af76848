/** gated-pixelcnn: Conditional Gated PixelCNNs for Node.js. */
export { Backend, CapturedWork } from './backend/backend';
export type { AdamOptions, AdamUpdate, ConvOptions, GateTerms } from './backend/backend';
export type { MemoryUsage } from './backend/native';
export { backendReport, loadBackend } from './backend/load';
export type { BackendName, BackendReport } from './backend/load';
export { Tensor } from './tensor';
export type { DType, TypedArrayOf } from './tensor';
export { PixelCNNError } from './errors';
export type { ErrorCode } from './errors';

export { GatedPixelCNN } from './nn/gated-pixelcnn';
export type { ModelOptions } from './nn/gated-pixelcnn';
export { PRESETS, presetConfig, resolveConfig } from './nn/config';
export type { ConfigInput, ModelConfig, PresetName } from './nn/config';
export type { Conditioning } from './nn/batch-inputs';
export { decodeCheckpoint, encodeCheckpoint, readCheckpoint } from './nn/checkpoint';

export { Adam } from './optim/adam';
export { WeightAverage } from './optim/weight-average';
export type { AdamConfig } from './optim/adam';
export { learningRate } from './optim/schedule';
export type { Schedule, ScheduleKind } from './optim/schedule';

export { Trainer } from './train/trainer';
export type { BatchEndInfo, TrainerCallbacks, TrainerOptions, TrainResult } from './train/trainer';
export type { Budget, TrainSettings } from './train/settings';
export { TrainingStep } from './train/training-step';
export type { TrainingStepOptions } from './train/training-step';
export { evaluate } from './train/evaluate';
export type { Evaluation, EvaluateOptions } from './train/evaluate';

export { sampleNaive } from './sample/naive';
export { sampleCached } from './sample/cached';
export { writeLevelsFile } from './sample/levels-file';
export type { LevelsSidecar } from './sample/levels-file';
export type { SampleOptions } from './sample/options';
export { writeSampleGrid } from './sample/grid';
export { completionInputs } from './sample/completion';
export type { CompletionSources, KeptPixels } from './sample/completion';
export { readKeepMask } from './sample/keep-mask';

export { loadMnist, loadIdxImages } from './data/mnist';
export { loadCifar10 } from './data/cifar10';
export { loadImageFolder } from './data/image-folder';
export type { ImageFolderOptions } from './data/image-folder';
export { writeImageFolder } from './data/write-image-folder';
export { createDataset } from './data/dataset';
export type { ImageDataset } from './data/dataset';
export { quantize, toDisplay, toExactPixels, toUnit } from './data/quantize';
export { BatchSampler, gatherBatch } from './data/batches';
export { Rng } from './data/rng';
export { encodePngGrid, writePngGrid } from './io/png-grid';
export { decodeSafetensors, encodeSafetensors } from './io/safetensors';
