/**
 * Turns SIGTERM/SIGINT into an abort: the driver stops at its next safe point. A second signal
 * does not kill us early; Kubernetes escalates to SIGKILL after the grace period by itself.
 */
export function abortOnSignals(onSignal?: (signal: NodeJS.Signals) => void): { signal: AbortSignal; received: () => NodeJS.Signals | undefined; dispose(): void } {
  const controller = new AbortController();
  let got: NodeJS.Signals | undefined;
  const handler = (sig: NodeJS.Signals) => {
    const first = got === undefined;
    got ??= sig;
    onSignal?.(sig);
    if (first) controller.abort(new Error(`received ${sig}`));
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return {
    signal: controller.signal,
    received: () => got,
    dispose() {
      process.off('SIGTERM', handler);
      process.off('SIGINT', handler);
    },
  };
}
