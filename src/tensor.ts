/**
 * A tensor in a backend's memory (host memory on the CPU, device memory under CUDA).
 * It stays there between ops; copies to JS are explicit (toArray, toFloat32Array).
 * Call dispose() to free it now; a finalizer frees it anyway once it is collected.
 */
import type { Backend } from './backend/backend';
import type { DType, NativeTensor } from './backend/native';
import { PixelCNNError, callNative } from './errors';

export type { DType } from './backend/native';
export type TypedArrayOf<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'int32'
    ? Int32Array
    : Uint8Array;

export class Tensor {
  /** The dimensions, outermost first (NCHW for images). */
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** The backend whose memory holds this tensor. */
  readonly backend: Backend;
  readonly #handle: NativeTensor;

  /** @internal Tensors come from a Backend (tensor(), zeros(), or an op), not from `new`. */
  constructor(backend: Backend, handle: NativeTensor) {
    this.backend = backend;
    this.#handle = handle;
    this.shape = Object.freeze(handle.shape);
    this.dtype = handle.dtype;
  }

  /** Number of elements. */
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  get disposed(): boolean {
    return this.#handle.disposed;
  }

  /** @internal The native handle, for the backend's calls. */
  get handle(): NativeTensor {
    return this.#handle;
  }

  /** Copies the contents into a new typed array of the tensor's dtype. */
  toArray(): Float32Array | Int32Array | Uint8Array {
    return callNative('toArray', () => this.#handle.toArray());
  }

  /** Copies a float32 tensor into a new Float32Array. */
  toFloat32Array(): Float32Array {
    if (this.dtype !== 'float32') {
      throw new PixelCNNError('ERR_DTYPE', `toFloat32Array: the tensor is ${this.dtype}`);
    }
    return this.toArray() as Float32Array;
  }

  /** Frees the memory now. Using the tensor afterwards throws ERR_DISPOSED; disposing twice is fine. */
  dispose(): void {
    this.#handle.dispose();
  }
}
