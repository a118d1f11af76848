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
import { blockGeometry, type BlockGeometry } from './layout';

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

  forward(ctx: ForwardContext, vIn: Tensor, hIn: Tensor): { outputs: BlockOutputs; cache: BlockCache } {
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
    const skip = be.conv2d(g, this.#p(ctx, 'skip.weight'), this.#p(ctx, 'skip.bias'));
    return { outputs: { vOut, hOut, skip }, cache: { vIn, hIn, uV, uH, vh, g, termsV, termsH } };
  }

  /**
   * Accumulates the block's parameter gradients and returns the gradients of its
   * inputs (null for block 0, whose input is the data). gradVOut and gradHOut are
   * null where the output fed nothing (the last block).
   */
  backward(
    ctx: ForwardContext,
    cache: BlockCache,
    gradVOut: Tensor | null,
    gradHOut: Tensor | null,
    gradSkip: Tensor,
  ): { gradVIn: Tensor; gradHIn: Tensor } | null {
    const be = ctx.backend;
    const { vertical, horizontal } = this.#geometry;
    const grad = (name: string, t: Tensor | undefined) => ctx.params.addGrad(`blocks.${this.#index}.${name}`, t);
    const oneByOne = (input: Tensor, gradOut: Tensor, name: string) => {
      const g = be.conv2dBackwardWeights(input, gradOut, [1, 1], { bias: true });
      grad(`${name}.weight`, g.gradWeight);
      grad(`${name}.bias`, g.gradBias);
    };

    // g feeds skip (always) and res (except in the last block).
    const gradG = be.conv2dBackwardData(gradSkip, this.#p(ctx, 'skip.weight'));
    oneByOne(cache.g, gradSkip, 'skip');
    if (gradHOut) {
      const fromRes = be.conv2dBackwardData(gradHOut, this.#p(ctx, 'res.weight'));
      be.accumulate(gradG, fromRes);
      fromRes.dispose();
      oneByOne(cache.g, gradHOut, 'res');
    }

    // Horizontal gate: its pre-activation gradient serves u_h, vh(u_v) and the h terms.
    const gateH = be.gateBackward(gradG, cache.uH, { ...cache.termsH, extra: cache.vh });
    gradG.dispose();
    const gradAH = gateH.gradInput;
    oneByOne(cache.uV, gradAH, 'vh');
    const gradUV = be.conv2dBackwardData(gradAH, this.#p(ctx, 'vh.weight'));
    this.#conditioningGrads(ctx, 'h', gateH.gradBias, gradAH);

    if (gradVOut) {
      const gateV = be.gateBackward(gradVOut, cache.uV, cache.termsV);
      be.accumulate(gradUV, gateV.gradInput);
      this.#conditioningGrads(ctx, 'v', gateV.gradBias, gateV.gradInput);
      gateV.gradInput.dispose();
    }

    const gv = be.conv2dBackwardWeights(cache.vIn, gradUV, vertical.kernel, { ...vertical, bias: true });
    grad('v.weight', gv.gradWeight);
    grad('v.bias', gv.gradBias);
    const gh = be.conv2dBackwardWeights(cache.hIn, gradAH, horizontal.kernel, { ...horizontal, bias: true });
    grad('h.weight', gh.gradWeight);
    grad('h.bias', gh.gradBias);

    let inputs: { gradVIn: Tensor; gradHIn: Tensor } | null = null;
    if (this.#index > 0) {
      const gradVIn = be.conv2dBackwardData(gradUV, this.#p(ctx, 'v.weight'), vertical);
      const gradHIn = be.conv2dBackwardData(gradAH, this.#p(ctx, 'h.weight'), horizontal);
      if (gradHOut) be.accumulate(gradHIn, gradHOut); // the residual path
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
