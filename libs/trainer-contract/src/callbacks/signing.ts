import { createHmac } from 'node:crypto';

/**
 * Standard Webhooks signature: `v1,base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))`.
 * A `whsec_` secret carries a base64 key (the spec's form); any other secret is used as raw UTF-8 bytes.
 */
export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): string {
  const key = secret.startsWith('whsec_') ? Buffer.from(secret.slice('whsec_'.length), 'base64') : Buffer.from(secret, 'utf8');
  const mac = createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/** Receiver side, for tests and for the demo receiver: checks any of the space-separated signatures. */
export function verifyWebhook(secret: string, headers: Record<string, string | string[] | undefined>, body: string): boolean {
  const id = String(headers['webhook-id'] ?? '');
  const ts = Number(headers['webhook-timestamp']);
  const sigs = String(headers['webhook-signature'] ?? '').split(' ');
  if (!id || !Number.isFinite(ts)) return false;
  const expected = signWebhook(secret, id, ts, body);
  return sigs.includes(expected);
}
