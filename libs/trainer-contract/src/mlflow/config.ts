import type { MlflowAuth } from './client.js';

export interface TrackingConfig {
  /** Base URL without credentials or trailing slash. */
  trackingUri: string;
  auth?: MlflowAuth;
  experimentName: string;
  /** For `mlflow.user` / `user_id`. */
  user: string;
}

export type TrackingConfigResult = { ok: true; config: TrackingConfig } | { ok: false; reason: string; level: 'info' | 'warn' };

/**
 * Reads MLflow's own variables. Credentials may also sit in the URI (`https://user:pass@host`); they are moved
 * into the Authorization header because fetch refuses such URLs, and so they are never logged with the URI.
 * As in MLflow's Python client, a username/password pair wins over a token.
 */
export function resolveTrackingConfig(env: NodeJS.ProcessEnv, defaultExperiment: string): TrackingConfigResult {
  const raw = env['MLFLOW_TRACKING_URI']?.trim();
  if (!raw) return { ok: false, level: 'info', reason: 'MLflow tracking is off: MLFLOW_TRACKING_URI is not set' };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, level: 'warn', reason: 'MLflow tracking is off: MLFLOW_TRACKING_URI is not a URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return {
      ok: false,
      level: 'warn',
      reason: `MLflow tracking is off: MLFLOW_TRACKING_URI must be an http(s) tracking server, not '${url.protocol}'`,
    };
  }
  const username = env['MLFLOW_TRACKING_USERNAME'] || decodeURIComponent(url.username);
  const password = env['MLFLOW_TRACKING_PASSWORD'] || decodeURIComponent(url.password);
  const token = env['MLFLOW_TRACKING_TOKEN'];
  url.username = '';
  url.password = '';
  url.search = '';
  url.hash = '';
  const auth: MlflowAuth | undefined = username && password ? { username, password } : token ? { token } : undefined;
  return {
    ok: true,
    config: {
      trackingUri: url.toString().replace(/\/+$/, ''),
      ...(auth ? { auth } : {}),
      experimentName: env['MLFLOW_EXPERIMENT_NAME']?.trim() || defaultExperiment,
      user: username || env['USER'] || env['LOGNAME'] || 'trainer',
    },
  };
}
