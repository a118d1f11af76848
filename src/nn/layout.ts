/**
 * Where everything is in a model of a given configuration: each block's kernel
 * sizes and offsets (SPEC.md §3) and the name and shape of every parameter
 * (SPEC.md §8), in the order of that table.
 */
import type { ModelConfig } from './config';

export interface ConvGeometry {
  kernel: [number, number]; // kh, kw
  dy: number;
  dx: number;
}

export interface BlockGeometry {
  vertical: ConvGeometry;
  horizontal: ConvGeometry;
}

export function blockGeometry(config: ModelConfig, index: number): BlockGeometry {
  if (index === 0) {
    const r0 = Math.floor(config.firstKernel / 2);
    return {
      vertical: { kernel: [r0, config.firstKernel], dy: r0, dx: r0 },
      horizontal: { kernel: [1, r0], dy: 0, dx: r0 },
    };
  }
  const r = Math.floor(config.kernel / 2);
  return {
    vertical: { kernel: [r + 1, config.kernel], dy: r, dx: r },
    horizontal: { kernel: [1, r + 1], dy: 0, dx: r },
  };
}

/** The number of values a tensor of `shape` holds. */
export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((product, d) => product * d, 1);
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** R of SPEC.md §5: how far back (in rows and columns) an output can see. */
export function receptiveRadius(config: ModelConfig): number {
  return Math.floor(config.firstKernel / 2) + (config.layers - 1) * Math.floor(config.kernel / 2);
}

/** Every parameter's name and shape, in SPEC.md §8 order. */
export function parameterShapes(config: ModelConfig): Map<string, number[]> {
  const { channels: C, hidden: p, skip: s, headHidden: q, levels: K } = config;
  const shapes = new Map<string, number[]>();
  for (let l = 0; l < config.layers; l++) {
    const cin = l === 0 ? C : p;
    const { vertical, horizontal } = blockGeometry(config, l);
    const at = `blocks.${l}.`;
    shapes.set(`${at}v.weight`, [2 * p, cin, ...vertical.kernel]);
    shapes.set(`${at}v.bias`, [2 * p]);
    shapes.set(`${at}h.weight`, [2 * p, cin, ...horizontal.kernel]);
    shapes.set(`${at}h.bias`, [2 * p]);
    shapes.set(`${at}vh.weight`, [2 * p, 2 * p, 1, 1]);
    shapes.set(`${at}vh.bias`, [2 * p]);
    shapes.set(`${at}res.weight`, [p, p, 1, 1]);
    shapes.set(`${at}res.bias`, [p]);
    shapes.set(`${at}skip.weight`, [s, p, 1, 1]);
    shapes.set(`${at}skip.bias`, [s]);
    for (const z of ['v', 'h']) {
      if (config.classes > 0) shapes.set(`${at}class_${z}.weight`, [config.classes, 2 * p]);
    }
    for (const z of ['v', 'h']) {
      if (config.condDim > 0) shapes.set(`${at}cond_${z}.weight`, [2 * p, config.condDim]);
    }
    for (const z of ['v', 'h']) {
      if (config.spatialCond > 0) shapes.set(`${at}spatial_${z}.weight`, [2 * p, config.spatialCond, 1, 1]);
    }
  }
  shapes.set('head.hidden.weight', [q, s, 1, 1]);
  shapes.set('head.hidden.bias', [q]);
  if (C > 1) shapes.set('head.prev', [q, C, C]);
  shapes.set('head.out.weight', [C * K, q, 1, 1]);
  shapes.set('head.out.bias', [C * K]);
  return shapes;
}
