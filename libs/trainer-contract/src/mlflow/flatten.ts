/** Keys whose values are secrets whatever they look like (a config's `api_key`, `callback_token`, …). */
const SECRET_KEY = /(passw(or)?d|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential|authorization)/i;
const MASKED = '***';

/**
 * Flattens nested objects into dotted keys (`optimizer.lr`), the way MLflow params are read. Arrays and other
 * leaves become text (arrays as JSON); undefined is skipped; values under secret-looking keys are masked.
 */
export function flattenParams(input: Record<string, unknown>, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  for (const [key, value] of Object.entries(input)) {
    const full = prefix ? `${prefix}.${key}` : key;
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') continue;
    if (SECRET_KEY.test(key) && value !== null && value !== '') {
      out[full] = MASKED;
    } else if (value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date) && !(value instanceof URL)) {
      flattenParams(value as Record<string, unknown>, full, out);
    } else {
      out[full] = leafText(value);
    }
  }
  return out;
}

function leafText(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return value;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) {
    try {
      return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    } catch {
      return String(value);
    }
  }
  return String(value);
}
