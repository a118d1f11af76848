/**
 * One gated block (SPEC.md §4), forward and backward:
 *   u_v = conv(v_in), u_h = conv(h_in)
 *   v_out = gate(u_v + c_v)
 *   g = gate(u_h + vh(u_v) + c_h)
 *   h_out = [h_in +] res(g),  skip = skip(g)
 * with c_z = class_z[y] + cond_z·vec + spatial_z(S). The last block's v_out and
 * h_out feed nothing, so it computes neither.
 */
import type { GateTerms } from '../backend/backend';
import type { Tensor } from '../tensor';
import { disposeAll, type ForwardContext } from './forward-context';
import { blockGeometry, type BlockGeometry, type ConvGeometry } from './layout';

const ONE_BY_ONE: ConvGeometry = { kernel: [1, 1], dy: 0, dx: 0 };

export interface BlockOutputs {
  vOut: Tensor | null;
  hOut: Tensor | null;
  skip: Tensor;
}

/** What backward needs from forward. */
export interface BlockCache {
  vIn: Tensor;
  hIn: Tensor;
  uV: Tensor;
  uH: Tensor;
  vh: Tensor;
  g: Tensor;
  termsV: GateTerms;
  termsH: GateTerms;
}

export class GatedBlock {
  readonly #index: number;
  readonly #geometry: BlockGeometry;
  readonly #last: boolean;

  constructor(ctxConfig: ForwardContext['config'], index: number) {
    this.#index = index;
    this.#geometry = blockGeometry(ctxConfig, index);
    this.#last = index === ctxConfig.layers - 1;
  }

  #p(ctx: ForwardContext, name: string): Tensor {
    return ctx.params.value(`blocks.${this.#index}.${name}`);
  }

  /** The conditioning terms c_z: a per-image bias [B, 2p] and a spatial map [B, 2p, H, W]. */
  #terms(ctx: ForwardContext, z: 'v' | 'h'): GateTerms {
    const be = ctx.backend;
    let bias: Tensor | null = null;
    if (ctx.labels) bias = be.embedding(this.#p(ctx, `class_${z}.weight`), ctx.labels);
    if (ctx.vectors) {
      const term = be.linear(ctx.vectors, this.#p(ctx, `cond_${z}.weight`));
      if (bias) {
        be.accumulate(bias, term);
        term.dispose();
      } else {
        bias = term;
      }
    }
    const spatial = ctx.spatial ? be.conv2d(ctx.spatial, this.#p(ctx, `spatial_${z}.weight`), null) : null;
    return { bias, spatial };
  }

  /**
   * skipSum is the sum of the skip outputs of the blocks before this one (null for the
   * first): this block's is added into it, and outputs.skip is that sum.
   */
  forward(
    ctx: ForwardContext, vIn: Tensor, hIn: Tensor, skipSum: Tensor | null,
  ): { outputs: BlockOutputs; cache: BlockCache } {
    const be = ctx.backend;
    const { vertical, horizontal } = this.#geometry;
    const uV = be.conv2d(vIn, this.#p(ctx, 'v.weight'), this.#p(ctx, 'v.bias'), vertical);
    const uH = be.conv2d(hIn, this.#p(ctx, 'h.weight'), this.#p(ctx, 'h.bias'), horizontal);
    const termsV = this.#terms(ctx, 'v');
    const termsH = this.#terms(ctx, 'h');
    const vOut = this.#last ? null : be.gate(uV, termsV);
    const vh = be.conv2d(uV, this.#p(ctx, 'vh.weight'), this.#p(ctx, 'vh.bias'));
    const g = be.gate(uH, { ...termsH, extra: vh });
    let hOut: Tensor | null = null;
    if (!this.#last) {
      const residual = be.conv2d(g, this.#p(ctx, 'res.weight'), this.#p(ctx, 'res.bias'));
      // Block 0 has no residual: h_in is the image itself, and adding it would leak x.
      if (this.#index === 0) {
        hOut = residual;
      } else {
        hOut = be.add(hIn, residual);
        residual.dispose();
      }
    }
    // (cuDNN's own accumulation, beta = 1, measured slower on an H200 than this add.)
    const skip = be.conv2d(g, this.#p(ctx, 'skip.weight'), this.#p(ctx, 'skip.bias'));
    if (skipSum) {
      be.accumulate(skipSum, skip);
      skip.dispose();
    }
    return { outputs: { vOut, hOut, skip: skipSum ?? skip }, cache: { vIn, hIn, uV, uH, vh, g, termsV, termsH } };
  }

  /**
   * Accumulates the block's parameter gradients and returns the gradients of its
   * inputs (null for block 0, whose input is the data). gradVOut and gradHOut are
   * null for the last block, whose v and h outputs feed nothing. gradSkip is the
   * gradient of the summed skip outputs, and skipBiasGrad its channel sums: every
   * block's skip.bias gradient, computed once by the caller. The returned gradHIn is
   * gradHOut itself, added into (the residual path), when gradHOut is given.
   */
  backward(
    ctx: ForwardContext,
    cache: BlockCache,
    gradVOut: Tensor | null,
    gradHOut: Tensor | null,
    gradSkip: Tensor,
    skipBiasGrad: Tensor,
  ): { gradVIn: Tensor; gradHIn: Tensor } | null {
    const be = ctx.backend;
    const { vertical, horizontal } = this.#geometry;
    const grad = (name: string, t: Tensor | undefined) => ctx.params.addGrad(`blocks.${this.#index}.${name}`, t);
    // A weight's gradient; the biases' come from channel sums below, some shared.
    const weightGrad = (input: Tensor, gradOut: Tensor, name: string, geometry: ConvGeometry = ONE_BY_ONE) =>
      grad(`${name}.weight`, be.conv2dBackwardWeights(input, gradOut, geometry.kernel, { ...geometry, bias: false }).gradWeight);

    // g feeds skip and (below the last block) res.
    const gradG = be.conv2dBackwardData(gradSkip, this.#p(ctx, 'skip.weight'));
    weightGrad(cache.g, gradSkip, 'skip');
    ctx.params.addGradShared(`blocks.${this.#index}.skip.bias`, skipBiasGrad);
    if (gradHOut) {
      be.conv2dBackwardDataAccumulate(gradG, gradHOut, this.#p(ctx, 'res.weight'));
      weightGrad(cache.g, gradHOut, 'res');
      grad('res.bias', be.channelSums(gradHOut));
    }

    // Horizontal gate: its pre-activation gradient serves u_h, vh(u_v) and the h terms.
    const gateH = be.gateBackward(gradG, cache.uH, { ...cache.termsH, extra: cache.vh });
    gradG.dispose();
    const gradAH = gateH.gradInput;
    // h.bias and vh.bias both add to that pre-activation: the same gradient, summed from
    // the gate's per-image sums when it has them.
    const biasSums = gateH.gradBias ?? gradAH;
    grad('h.bias', be.channelSums(biasSums));
    grad('vh.bias', be.channelSums(biasSums));
    weightGrad(cache.uV, gradAH, 'vh');
    this.#conditioningGrads(ctx, 'h', gateH.gradBias, gradAH);

    // u_v feeds vh and (below the last block) the vertical gate.
    let gradUV: Tensor;
    if (gradVOut) {
      const gateV = be.gateBackward(gradVOut, cache.uV, cache.termsV);
      this.#conditioningGrads(ctx, 'v', gateV.gradBias, gateV.gradInput);
      gradUV = gateV.gradInput;
      be.conv2dBackwardDataAccumulate(gradUV, gradAH, this.#p(ctx, 'vh.weight'));
    } else {
      gradUV = be.conv2dBackwardData(gradAH, this.#p(ctx, 'vh.weight'));
    }
    weightGrad(cache.vIn, gradUV, 'v', vertical);
    grad('v.bias', be.channelSums(gradUV));
    weightGrad(cache.hIn, gradAH, 'h', horizontal);

    let inputs: { gradVIn: Tensor; gradHIn: Tensor } | null = null;
    if (this.#index > 0) {
      const gradVIn = be.conv2dBackwardData(gradUV, this.#p(ctx, 'v.weight'), vertical);
      let gradHIn: Tensor;
      if (gradHOut) {
        be.conv2dBackwardDataAccumulate(gradHOut, gradAH, this.#p(ctx, 'h.weight'), horizontal); // + the residual path
        gradHIn = gradHOut;
      } else {
        gradHIn = be.conv2dBackwardData(gradAH, this.#p(ctx, 'h.weight'), horizontal);
      }
      inputs = { gradVIn, gradHIn };
    }
    disposeAll(gradUV, gradAH);
    return inputs;
  }

  /** Gradients of class_z, cond_z and spatial_z from the gate's bias and pre-activation gradients. */
  #conditioningGrads(ctx: ForwardContext, z: 'v' | 'h', gradBias: Tensor | undefined, gradA: Tensor): void {
    const be = ctx.backend;
    const name = (what: string) => `blocks.${this.#index}.${what}_${z}.weight`;
    if (gradBias) {
      if (ctx.labels) {
        ctx.params.addGrad(name('class'), be.embeddingBackward(gradBias, ctx.labels, ctx.config.classes));
      }
      if (ctx.vectors) {
        const g = be.linearBackward(gradBias, ctx.vectors, ctx.params.value(name('cond')), { inputGrad: false });
        ctx.params.addGrad(name('cond'), g.gradWeight);
      }
      gradBias.dispose();
    }
    if (ctx.spatial) {
      const g = be.conv2dBackwardWeights(ctx.spatial, gradA, [1, 1], { bias: false });
      ctx.params.addGrad(name('spatial'), g.gradWeight);
    }
  }
}

export function disposeBlockCache(cache: BlockCache, input: Tensor): void {
  // The first block's inputs are the batch's x̃, owned by the caller.
  if (cache.vIn !== input) cache.vIn.dispose();
  if (cache.hIn !== input) cache.hIn.dispose();
  disposeAll(cache.uV, cache.uH, cache.vh, cache.g);
  disposeAll(cache.termsV.bias, cache.termsV.spatial, cache.termsH.bias, cache.termsH.spatial);
}
