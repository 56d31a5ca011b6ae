import { redact } from '../log/index.js';

/**
 * An MLflow call that failed. `status` is the HTTP status, or 0 when no HTTP answer came back (timeout, refused
 * connection, reset) or the failure was found on the client side. `errorCode` is MLflow's `error_code` when the body
 * was MLflow's JSON error; otherwise one of TIMEOUT, NETWORK_ERROR, ABORTED, INVALID_RESPONSE, EXPERIMENT_DELETED,
 * ARTIFACTS_NOT_PROXIED or `HTTP_<status>` (a proxy's or Flask's HTML page, such as the 500 page for a bad body).
 */
export class MlflowApiError extends Error {
  override readonly name = 'MlflowApiError';
  readonly status: number;
  readonly errorCode: string;
  /** The method and endpoint, e.g. `POST runs/log-batch`. */
  readonly operation: string;
  /** For NETWORK_ERROR: the socket error code (ECONNREFUSED, ECONNRESET, …) when Node gave one. */
  readonly networkCode: string | undefined;

  constructor(status: number, errorCode: string, message: string, operation = '', networkCode?: string) {
    super(redact(message));
    this.status = status;
    this.errorCode = errorCode;
    this.operation = operation;
    this.networkCode = networkCode;
  }

  /** Whether trying the same call again later can succeed. */
  get transient(): boolean {
    if (this.status === 0) return this.errorCode === 'TIMEOUT' || this.errorCode === 'NETWORK_ERROR';
    return this.status === 429 || this.status >= 500;
  }
}

const MAX_MESSAGE = 300;

/** Builds the error for a non-2xx answer, whether its body is MLflow's JSON error or an HTML/text page. */
export function errorFromResponse(status: number, bodyText: string, operation: string): MlflowApiError {
  try {
    const parsed = JSON.parse(bodyText) as { error_code?: unknown; message?: unknown };
    if (parsed && typeof parsed === 'object' && typeof parsed.error_code === 'string') {
      const message = typeof parsed.message === 'string' ? parsed.message : parsed.error_code;
      return new MlflowApiError(status, parsed.error_code, `${operation}: ${message}`, operation);
    }
  } catch {
    // Not JSON: an HTML error page (MLflow's 500 for an unparsable body, a proxy's 502, an auth page).
  }
  const text = htmlToText(bodyText);
  const detail = text ? `: ${text.length > MAX_MESSAGE ? text.slice(0, MAX_MESSAGE) + '…' : text}` : '';
  return new MlflowApiError(status, `HTTP_${status}`, `${operation}: HTTP ${status} with a non-JSON body${detail}`, operation);
}

function htmlToText(body: string): string {
  return body
    .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim();
}
