/**
 * Loading the native addons and choosing a backend. Today only the CPU addon is
 * built; `'auto'` and the GATED_PIXELCNN_BACKEND variable already go through here
 * so that the CUDA addon slots in without changing callers.
 */
import bindings from 'bindings';
import * as path from 'node:path';

import { PixelCNNError } from '../errors';
import { Backend } from './backend';
import type { NativeAddon } from './native';

export type BackendName = 'auto' | 'cpu';

let cpu: Backend | undefined;

function cpuBackend(): Backend {
  if (!cpu) {
    try {
      // src/backend and dist/backend both sit two levels below the package root.
      const addon = bindings({
        bindings: 'gated_pixelcnn_cpu',
        module_root: path.resolve(__dirname, '..', '..'),
      });
      cpu = new Backend(addon as NativeAddon);
    } catch (error) {
      throw new PixelCNNError(
        'ERR_BACKEND',
        `the CPU addon could not be loaded (${(error as Error).message}); ` +
          'rebuild it with `npm rebuild gated-pixelcnn` after installing oneDNN (libdnnl-dev)',
        { cause: error },
      );
    }
  }
  return cpu;
}

export interface BackendReport {
  /** The backend 'auto' picks, and why. */
  chosen: string;
  reason: string;
  candidates: { name: string; available: boolean; detail: string }[];
}

/** Which backends this build and machine offer, and which one 'auto' uses. */
export function backendReport(): BackendReport {
  const override = process.env.GATED_PIXELCNN_BACKEND;
  let cpuDetail: string;
  let cpuAvailable = true;
  try {
    const features = cpuBackend().features;
    cpuDetail = `oneDNN ${features.onednn}, ${features.threads} threads`;
  } catch (error) {
    cpuAvailable = false;
    cpuDetail = (error as Error).message;
  }
  return {
    chosen: 'cpu',
    reason: override
      ? `GATED_PIXELCNN_BACKEND=${override}`
      : 'the CPU is the only backend in this build',
    candidates: [
      { name: 'cuda', available: false, detail: 'not built: this build has no CUDA addon' },
      { name: 'cpu', available: cpuAvailable, detail: cpuDetail },
    ],
  };
}

/** The backend to compute on: `name` or, when it is 'auto', the GATED_PIXELCNN_BACKEND variable. */
export function loadBackend(name: BackendName = 'auto'): Backend {
  const chosen = name === 'auto' ? (process.env.GATED_PIXELCNN_BACKEND ?? 'auto') : name;
  if (chosen === 'auto' || chosen === 'cpu') return cpuBackend();
  throw new PixelCNNError(
    'ERR_BACKEND', `unknown backend '${chosen}': this build has only 'cpu' ('auto' picks it)`,
  );
}
