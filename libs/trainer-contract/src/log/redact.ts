/** Environment variables whose values are secrets wherever they appear. */
export const SECRET_ENV_VARS = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'CALLBACK_TOKEN',
  'CALLBACK_SECRET',
  'MLFLOW_TRACKING_PASSWORD',
  'MLFLOW_TRACKING_TOKEN',
  'HF_TOKEN',
] as const;

const MASK = '***';

// Patterns for secrets that are not known in advance: credentials inside URLs, presigned-URL
// signatures, and bearer/basic tokens echoed in headers.
const PATTERNS: Array<[RegExp, string]> = [
  [/([a-z][a-z0-9+.-]*:\/\/)([^\s/:@"']+):([^\s/@"']*)@/gi, `$1${MASK}:${MASK}@`],
  [/([a-z][a-z0-9+.-]*:\/\/)([^\s/:@"']+)@/gi, `$1${MASK}@`],
  [/(X-Amz-(?:Signature|Credential|Security-Token)=)[^&\s"']+/gi, `$1${MASK}`],
  [/((?:authorization|proxy-authorization)["']?\s*[:=]\s*["']?(?:bearer|basic)\s+)[^\s"',]+/gi, `$1${MASK}`],
  [/(\b(?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]{8,}/g, `$1${MASK}`],
];

export type Redactor = (text: string) => string;

/** Builds a redactor for the secrets in `env`; values shorter than 4 characters are ignored as too common to mask. */
export function createRedactor(env: NodeJS.ProcessEnv = process.env, extraSecrets: readonly string[] = []): Redactor {
  const secrets = new Set<string>();
  const add = (value: string | undefined) => {
    if (!value || value.length < 4) return;
    secrets.add(value);
    // The same value as it appears inside a JSON string (quotes, backslashes, control characters escaped).
    secrets.add(JSON.stringify(value).slice(1, -1));
    secrets.add(encodeURIComponent(value));
  };
  for (const name of SECRET_ENV_VARS) add(env[name]);
  for (const value of extraSecrets) add(value);
  // Longest first, so a secret that contains another is masked whole.
  const ordered = [...secrets].sort((a, b) => b.length - a.length);
  return (text: string) => {
    let out = text;
    for (const secret of ordered) if (out.includes(secret)) out = out.split(secret).join(MASK);
    for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
    return out;
  };
}

let active: Redactor = createRedactor();

/** The process-wide redactor: logs, stderr, callbacks and MLflow all pass text through it. */
export function redact(text: string): string {
  return active(text);
}

/** Re-reads the secrets (the CLI calls this once it knows the final environment). */
export function configureRedaction(env: NodeJS.ProcessEnv = process.env, extraSecrets: readonly string[] = []): void {
  active = createRedactor(env, extraSecrets);
}
