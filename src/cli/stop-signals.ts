/**
 * The signals that stop a long command (train, sample, complete): Ctrl-C, and SIGTERM
 * (timeout, docker stop, batch schedulers); the exit status each leaves, 128 + its
 * number as a shell reports it, so that `train && sample` does not go on.
 */
export const STOP_SIGNALS = {
  SIGINT: { status: 130, shown: 'Ctrl-C' },
  SIGTERM: { status: 143, shown: 'SIGTERM' },
} as const;

export type StopSignal = keyof typeof STOP_SIGNALS;

export const stopSignals = Object.keys(STOP_SIGNALS) as StopSignal[];
