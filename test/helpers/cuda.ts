/** What the GPU suites (test/cuda) run on, and with which precision. */
import { backendReport } from '../../src';

/** A CUDA backend answers: a GPU, or the CUDA emulator (GATED_PIXELCNN_CUDA_EMULATOR). */
export const cudaAvailable = backendReport().candidates.some((c) => c.name === 'cuda' && c.available);

/** GATED_PIXELCNN_CUDA_EMULATOR asks for the emulator: 1, or the path of a build of it. */
const emulatorSetting = process.env.GATED_PIXELCNN_CUDA_EMULATOR ?? '';
export const emulatorRequested = emulatorSetting === '1' || emulatorSetting.endsWith('.node');

/** TF32 tensor cores (on by default, as in PyTorch) round convolution inputs to 10 mantissa bits. */
export const tf32 = process.env.GATED_PIXELCNN_TF32 !== '0';
