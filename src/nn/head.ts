/**
 * The output head (SPEC.md §4): z_s = hidden(relu(skip)); per channel c,
 * z_c = relu(z_s + Σ_{c'<c} prev[:, c, c']·x̃[c']); logits[c] = out_c(z_c), where
 * the C output convolutions run as one grouped 1×1 convolution.
 */
import type { Tensor } from '../tensor';
import { disposeAll, type ForwardContext } from './forward-context';

export interface HeadCache {
  skip: Tensor;
  relued: Tensor;
  z: Tensor;
}

export function headForward(ctx: ForwardContext, skip: Tensor): { logits: Tensor; cache: HeadCache } {
  const { backend: be, params, config } = ctx;
  const relued = be.relu(skip);
  const zs = be.conv2d(relued, params.value('head.hidden.weight'), params.value('head.hidden.bias'));
  const prev = config.channels > 1 ? params.value('head.prev') : null;
  const z = be.headChannels(zs, prev, ctx.input);
  zs.dispose();
  const flat = be.conv2d(z, params.value('head.out.weight'), params.value('head.out.bias'), {
    groups: config.channels,
  });
  const logits = be.reshape(flat, [ctx.batch, config.channels, config.levels, config.height, config.width]);
  flat.dispose();
  return { logits, cache: { skip, relued, z } };
}

/** Accumulates the head's parameter gradients; returns the gradient of the summed skips. */
export function headBackward(ctx: ForwardContext, cache: HeadCache, gradLogits: Tensor): Tensor {
  const { backend: be, params, config } = ctx;
  const C = config.channels;
  const gradFlat = be.reshape(gradLogits, [ctx.batch, C * config.levels, config.height, config.width]);
  const out = be.conv2dBackwardWeights(cache.z, gradFlat, [1, 1], { groups: C, bias: true });
  params.addGrad('head.out.weight', out.gradWeight);
  params.addGrad('head.out.bias', out.gradBias);
  const gradZ = be.conv2dBackwardData(gradFlat, params.value('head.out.weight'), { groups: C });
  gradFlat.dispose();
  const channels = be.headChannelsBackward(gradZ, cache.z, ctx.input, { prev: C > 1 });
  gradZ.dispose();
  params.addGrad('head.prev', channels.gradPrev);
  const hidden = be.conv2dBackwardWeights(cache.relued, channels.gradHidden, [1, 1], { bias: true });
  params.addGrad('head.hidden.weight', hidden.gradWeight);
  params.addGrad('head.hidden.bias', hidden.gradBias);
  const gradRelued = be.conv2dBackwardData(channels.gradHidden, params.value('head.hidden.weight'));
  channels.gradHidden.dispose();
  const gradSkip = be.reluBackward(gradRelued, cache.skip);
  gradRelued.dispose();
  return gradSkip;
}

export function disposeHeadCache(cache: HeadCache): void {
  disposeAll(cache.skip, cache.relued, cache.z);
}
