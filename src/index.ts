/** gated-pixelcnn: Conditional Gated PixelCNNs for Node.js. */
export { Backend } from './backend/backend';
export type { AdamOptions, ConvOptions, GateTerms } from './backend/backend';
export { loadBackend } from './backend/load';
export type { BackendName } from './backend/load';
export { Tensor } from './tensor';
export type { DType, TypedArrayOf } from './tensor';
export { PixelCNNError } from './errors';
export type { ErrorCode } from './errors';
