/**
 * Loading the native addons and choosing a backend. `'auto'` takes CUDA when its
 * addon was built, loads, and a device answers; otherwise the CPU. The
 * GATED_PIXELCNN_BACKEND variable (auto | cpu | cuda) overrides 'auto', and
 * backendReport() says which candidate was skipped and why.
 */
import bindings from 'bindings';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

import { PixelCNNError } from '../errors';
import { Backend } from './backend';
import type { NativeAddon } from './native';

export type BackendName = 'auto' | 'cpu' | 'cuda';

// src/backend and dist/backend both sit two levels below the package root.
const packageRoot = path.resolve(__dirname, '..', '..');

type Loaded = { backend: Backend } | { error: string };
const loaded = new Map<'cpu' | 'cuda', Loaded>();

function load(name: 'cpu' | 'cuda'): Loaded {
  let result = loaded.get(name);
  if (!result) {
    try {
      const addon = loadAddon(name);
      result = { backend: new Backend(addon) };
    } catch (error) {
      result = { error: whyUnavailable(name, error as Error) };
    }
    loaded.set(name, result);
  }
  return result;
}

/**
 * GATED_PIXELCNN_CUDA_EMULATOR=1 puts the CUDA emulator addon in the CUDA addon's
 * place: the CUDA backend's own code compiled for the CPU (cmake/cuda-emulator.cmake).
 * Tests use it to run the GPU test suite without a GPU; it is far too slow for work.
 * A path to a .node file instead of 1 names another build of it, and
 * GATED_PIXELCNN_CPU_ADDON another build of the CPU addon (sanitized ones:
 * scripts/asan-check.sh).
 */
function addonFile(name: 'cpu' | 'cuda'): string {
  const emulator = process.env.GATED_PIXELCNN_CUDA_EMULATOR ?? '';
  if (name === 'cuda' && emulator.endsWith('.node')) return emulator;
  const cpuBuild = process.env.GATED_PIXELCNN_CPU_ADDON ?? '';
  if (name === 'cpu' && cpuBuild.endsWith('.node')) return cpuBuild;
  return name === 'cuda' && emulator === '1' ? 'gated_pixelcnn_cuda_emu' : `gated_pixelcnn_${name}`;
}

/** @internal The addon itself, below the Backend (tests call it directly to check its own argument checks). */
export function loadAddon(name: 'cpu' | 'cuda'): NativeAddon {
  const file = addonFile(name);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  if (file.endsWith('.node')) return require(path.resolve(file)) as NativeAddon;
  return bindings({ bindings: file, module_root: packageRoot }) as NativeAddon;
}

function whyUnavailable(name: 'cpu' | 'cuda', error: Error): string {
  if (/Could not locate the bindings file/.test(error.message)) {
    if (name === 'cpu') return 'the CPU addon is not built (install scripts turned off, or oneDNN missing when it was installed): run `npm rebuild gated-pixelcnn`, with oneDNN installed (libdnnl-dev)';
    if (addonFile(name) !== `gated_pixelcnn_${name}`) return 'the CUDA emulator addon is not built (cmake option GPCNN_CUDA_EMULATOR)';
    const status = path.join(packageRoot, 'build', 'cuda-status.txt');
    return existsSync(status) ? readFileSync(status, 'utf8').trim() : 'not built';
  }
  return error.message;
}

function loadOrThrow(name: 'cpu' | 'cuda'): Backend {
  const result = load(name);
  if ('backend' in result) return result.backend;
  throw new PixelCNNError('ERR_BACKEND', `the ${name} backend is unavailable: ${result.error}`);
}

/** The backend to compute on: `name` or, when it is 'auto', the GATED_PIXELCNN_BACKEND variable. */
export function loadBackend(name: BackendName = 'auto'): Backend {
  const chosen = name === 'auto' ? (process.env.GATED_PIXELCNN_BACKEND || 'auto') : name;
  switch (chosen) {
    case 'cpu':
    case 'cuda':
      return loadOrThrow(chosen);
    case 'auto': {
      const cuda = load('cuda');
      return 'backend' in cuda ? cuda.backend : loadOrThrow('cpu');
    }
    default:
      throw new PixelCNNError(
        'ERR_BACKEND',
        `unknown backend '${chosen}'${name === 'auto' ? ' in GATED_PIXELCNN_BACKEND' : ''} (choose auto, cpu or cuda)`,
      );
  }
}

export interface BackendReport {
  /** The backend 'auto' picks ('none' where neither is available), and why. */
  chosen: string;
  reason: string;
  candidates: { name: string; available: boolean; detail: string }[];
}

/** Which backends this build and machine offer, and which one 'auto' uses. */
export function backendReport(): BackendReport {
  const candidates = (['cuda', 'cpu'] as const).map((name) => {
    const result = load(name);
    if (!('backend' in result)) return { name, available: false, detail: result.error };
    const f = result.backend.features;
    const detail = name === 'cuda'
      ? `${f.device} (compute ${f.computeCapability}), cuDNN ${f.cudnn}${f.cublas ? ', cuBLAS' : ''}, TF32 ${f.tf32 ? 'on' : 'off'}`
      : `oneDNN ${f.onednn}, ${f.threads} threads`;
    return { name, available: true, detail };
  });
  const override = process.env.GATED_PIXELCNN_BACKEND;
  if (override && override !== 'auto') {
    // As loadBackend() resolves it: an unknown or unavailable choice is reported as such.
    const candidate = candidates.find((c) => c.name === override);
    const reason = !candidate
      ? `GATED_PIXELCNN_BACKEND=${override} names no backend (choose auto, cpu or cuda), so backend 'auto' fails`
      : candidate.available
        ? `GATED_PIXELCNN_BACKEND=${override}`
        : `GATED_PIXELCNN_BACKEND=${override}, which is unavailable, so backend 'auto' fails`;
    return { chosen: override, reason, candidates };
  }
  const [cuda, cpu] = candidates;
  if (cuda.available) return { chosen: 'cuda', reason: 'a CUDA device answers', candidates };
  if (cpu.available) return { chosen: 'cpu', reason: `CUDA is unavailable: ${cuda.detail}`, candidates };
  return { chosen: 'none', reason: "neither addon is available, so backend 'auto' fails", candidates };
}
