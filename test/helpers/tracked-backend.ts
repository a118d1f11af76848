/**
 * A CPU backend of its own whose ops record every tensor they return and can be made
 * to fail at a chosen call, to check that a pass failing midway frees what it made.
 */
import { Backend, PixelCNNError, Tensor } from '../../src';
import { loadAddon } from '../../src/backend/load';

export interface TrackedBackend {
  backend: Backend;
  /** Tensors the ops returned that are not disposed. */
  live(): Tensor[];
  /** The `call`-th call of `op` from now on throws ERR_CUDA_OOM, as a device out of memory would. */
  failAt(op: string, call: number): void;
}

export function trackedBackend(): TrackedBackend {
  const backend = new Backend(loadAddon('cpu'));
  const made: Tensor[] = [];
  const calls = new Map<string, number>();
  let failure: { op: string; call: number } | null = null;
  const record = (value: unknown): void => {
    if (value instanceof Tensor) made.push(value);
    else if (value && typeof value === 'object' && !ArrayBuffer.isView(value)) Object.values(value).forEach(record);
  };
  for (const [name, descriptor] of Object.entries(Object.getOwnPropertyDescriptors(Backend.prototype))) {
    const original: unknown = descriptor.value;
    if (name === 'constructor' || typeof original !== 'function') continue;
    Object.defineProperty(backend, name, {
      value: (...args: unknown[]) => {
        const count = (calls.get(name) ?? 0) + 1;
        calls.set(name, count);
        if (failure?.op === name && failure.call === count) throw new PixelCNNError('ERR_CUDA_OOM', `${name}: injected failure`);
        const result: unknown = (original as (...a: unknown[]) => unknown).apply(backend, args);
        record(result);
        return result;
      },
    });
  }
  return {
    backend,
    live: () => made.filter((t) => !t.disposed),
    failAt: (op, call) => {
      calls.clear();
      failure = { op, call };
    },
  };
}
