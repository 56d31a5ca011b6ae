import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import type { Logger } from '../log/index.js';

/**
 * Kubeflow Trainer's TrainJob status server (KEP-2779, v2.2+, feature gate TrainJobStatus): when the controller injects
 * its address, the trainer also posts progress there, so `kubectl get trainjob` shows it without a backend.
 * Best-effort: never blocks training, never fails the job, one warning for the first failure.
 */
export const STATUS_ENV = {
  url: 'KUBEFLOW_TRAINER_STATUS_SERVER_URL',
  ca: 'KUBEFLOW_TRAINER_STATUS_SERVER_CA_CERT',
  token: 'KUBEFLOW_TRAINER_STATUS_SERVER_TOKEN',
} as const;
/** Set by our ClusterTrainingRuntime (downward API) so the trainer knows which TrainJob it is. */
export const TRAINJOB_NAME_ENV = 'KUBEFLOW_TRAINJOB_NAME';
export const NAMESPACE_ENV = 'POD_NAMESPACE';
const SA_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';
const MAX_METRICS = 256;
const MAX_VALUE = 64;
const TIMEOUT_MS = 5_000;

export interface TrainerStatusUpdate {
  epoch: number;
  totalEpochs: number;
  metrics: Record<string, number>;
  /** Seconds per epoch so far, for the remaining-time estimate. */
  epochSeconds?: number;
}

export interface KubeflowStatusReporter {
  /** The endpoint posted to (for the log and tests). */
  readonly url: string;
  report(update: TrainerStatusUpdate): void;
  /** Waits for the post in flight (the last epoch's must land before the process exits). */
  drain(): Promise<void>;
}

/** A value given either inline or as a file path (the projected token rotates, so files are re-read per post). */
function valueOrFile(v: string | undefined): string | undefined {
  if (!v) return undefined;
  const trimmed = v.trim();
  if (!trimmed.includes('\n') && !trimmed.startsWith('-----') && existsSync(trimmed)) return readFileSync(trimmed, 'utf8').trim();
  return trimmed;
}

/** The status endpoint: the injected URL when it already names one, else built from the TrainJob's namespace and name. */
export function statusEndpoint(env: NodeJS.ProcessEnv): string | undefined {
  const base = env[STATUS_ENV.url]?.trim();
  if (!base) return undefined;
  if (/\/trainjobs\/[^/]+\/status\/?$/.test(new URL(base).pathname)) return base;
  const name = env[TRAINJOB_NAME_ENV] || env['TRAINJOB_NAME'];
  const namespace = env[NAMESPACE_ENV] || (existsSync(SA_NAMESPACE) ? readFileSync(SA_NAMESPACE, 'utf8').trim() : undefined);
  if (!name || !namespace) return undefined;
  return `${base.replace(/\/$/, '')}/apis/trainer.kubeflow.org/v1alpha1/namespaces/${encodeURIComponent(namespace)}/trainjobs/${encodeURIComponent(name)}/status`;
}

/** `status.trainerStatus` as KEP-2779 reads it: metric values are strings of at most 64 characters, 256 at most. */
export function trainerStatusBody(u: TrainerStatusUpdate, now = new Date()): Record<string, unknown> {
  const progress = u.totalEpochs > 0 ? Math.min(100, Math.max(0, Math.round((u.epoch / u.totalEpochs) * 100))) : 0;
  const metrics = Object.entries(u.metrics)
    .filter(([, v]) => Number.isFinite(v))
    .slice(0, MAX_METRICS)
    .map(([name, value]) => ({ name: name.slice(0, MAX_VALUE), value: String(value).slice(0, MAX_VALUE) }));
  const remaining = u.epochSeconds !== undefined && u.epochSeconds > 0 ? Math.round(Math.max(0, u.totalEpochs - u.epoch) * u.epochSeconds) : undefined;
  return {
    trainerStatus: {
      progressPercentage: progress,
      ...(remaining !== undefined ? { estimatedRemainingSeconds: remaining } : {}),
      metrics,
      lastUpdatedTime: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    },
  };
}

export function createKubeflowStatusReporter(env: NodeJS.ProcessEnv, logger: Logger): KubeflowStatusReporter | undefined {
  const endpoint = env[STATUS_ENV.url] ? statusEndpoint(env) : undefined;
  if (env[STATUS_ENV.url] && !endpoint) {
    logger.warn(`${STATUS_ENV.url} is set but the TrainJob's name or namespace is unknown (${TRAINJOB_NAME_ENV}, ${NAMESPACE_ENV}): no status posts`);
  }
  if (!endpoint) return undefined;
  const url = new URL(endpoint);
  let inFlight: Promise<void> = Promise.resolve();
  let pending: TrainerStatusUpdate | undefined;
  let warned = false;

  const post = (update: TrainerStatusUpdate) =>
    new Promise<void>((resolve) => {
      const body = JSON.stringify(trainerStatusBody(update));
      const token = valueOrFile(env[STATUS_ENV.token]);
      const ca = valueOrFile(env[STATUS_ENV.ca]);
      const send = url.protocol === 'https:' ? request : httpRequest;
      const req = send(
        url,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(token ? { authorization: `Bearer ${token}` } : {}) },
          ...(ca && url.protocol === 'https:' ? { ca } : {}),
          timeout: TIMEOUT_MS,
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            if ((res.statusCode ?? 0) >= 300) fail(`HTTP ${res.statusCode}`);
            resolve();
          });
        },
      );
      const fail = (why: string) => {
        if (warned) return;
        warned = true;
        logger.warn({ url: endpoint }, `Kubeflow status post failed (${why}); training goes on, later posts are still tried`);
      };
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (e) => {
        fail(e.message);
        resolve();
      });
      req.end(body);
    });

  return {
    url: endpoint,
    report(update) {
      // One post at a time; a newer update replaces one still waiting (the server is rate-limited anyway).
      const idle = pending === undefined;
      pending = update;
      if (!idle) return;
      inFlight = inFlight.then(async () => {
        const next = pending!;
        pending = undefined;
        await post(next);
      });
    },
    drain: () => inFlight,
  };
}
