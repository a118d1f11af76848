/**
 * The model's parameters by their SPEC.md §8 names, each with its gradient.
 * Gradients accumulate across backward calls until zeroGrad(); a parameter that
 * received no gradient has none (and the optimizer leaves it alone, as PyTorch's).
 */
import type { Backend } from '../backend/backend';
import { PixelCNNError } from '../errors';
import type { Tensor } from '../tensor';

export interface Parameter {
  readonly name: string;
  readonly shape: readonly number[];
  value: Tensor;
  grad: Tensor | null;
}

export class ParameterSet {
  readonly #params = new Map<string, Parameter>();

  constructor(readonly backend: Backend) {}

  add(name: string, value: Tensor): Tensor {
    if (this.#params.has(name)) throw new PixelCNNError('ERR_INTERNAL', `parameter ${name} twice`);
    this.#params.set(name, { name, shape: value.shape, value, grad: null });
    return value;
  }

  get(name: string): Parameter {
    const p = this.#params.get(name);
    if (!p) throw new PixelCNNError('ERR_INTERNAL', `no parameter ${name}`);
    return p;
  }

  value(name: string): Tensor {
    return this.get(name).value;
  }

  has(name: string): boolean {
    return this.#params.has(name);
  }

  /** In registration order, which is the order of SPEC.md §8. */
  list(): Parameter[] {
    return [...this.#params.values()];
  }

  /** Adds a gradient to the parameter's (takes ownership of `grad`). */
  addGrad(name: string, grad: Tensor | undefined): void {
    if (!grad) return;
    const p = this.get(name);
    if (p.grad) {
      this.backend.accumulate(p.grad, grad);
      grad.dispose();
    } else {
      p.grad = grad;
    }
  }

  /** Adds a gradient that the caller keeps (one shared by several parameters). */
  addGradShared(name: string, grad: Tensor): void {
    const p = this.get(name);
    p.grad ??= this.backend.zeros(p.shape);
    this.backend.accumulate(p.grad, grad);
  }

  zeroGrad(): void {
    for (const p of this.#params.values()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Replaces a parameter's values with a copy of `data` (same element count). */
  assign(name: string, data: Float32Array): void {
    const p = this.get(name);
    const fresh = this.backend.tensor(data, p.shape);
    p.value.dispose();
    p.value = fresh;
  }

  get count(): number {
    return this.list().reduce((n, p) => n + p.value.size, 0);
  }

  dispose(): void {
    this.zeroGrad();
    for (const p of this.#params.values()) p.value.dispose();
    this.#params.clear();
  }
}
