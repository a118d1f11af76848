/** The CPU backend and typed-array conversions shared by the op tests. */
import { loadBackend, type Backend, type Tensor } from '../../src';
import { loadAddon } from '../../src/backend/load';
import type { NativeAddon } from '../../src/backend/native';

export const cpu: Backend = loadBackend('cpu');

/** A float32 tensor from float64 test data. */
export function f32(data: Float64Array, shape: readonly number[], backend = cpu): Tensor {
  return backend.tensor(Float32Array.from(data), shape);
}

export function i32(data: ArrayLike<number>, shape: readonly number[], backend = cpu): Tensor {
  return backend.tensor(Int32Array.from(data), shape);
}

/** The contents of a float32 tensor, widened, and the tensor disposed. */
export function read(t: Tensor | undefined): Float64Array {
  if (!t) throw new Error('expected a tensor');
  const values = Float64Array.from(t.toFloat32Array());
  t.dispose();
  return values;
}

/** The raw CPU addon, to prove that native code checks its arguments without the TypeScript layer. */
export function rawAddon(): NativeAddon {
  return loadAddon('cpu');
}
