import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { createCallbackClient, idempotencyId, parseRetryAfter } from './client.js';
import { signWebhook, verifyWebhook } from './signing.js';
import { startCallbackReceiver, type CallbackReceiver } from '../testing/callback-receiver.js';
import { createLogger } from '../log/index.js';
import { CallbackUndeliveredError, ExitCode } from '../errors/index.js';

const SECRET = 'whsec_' + Buffer.from('a-32-byte-long-signing-key-here!').toString('base64');
const TOKEN = 'tok-abcdef123456';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, logger: createLogger({ stream, pretty: false, level: 'debug' }) };
}

const completion = { job_id: 123, status: 'completed' as const, final_metrics: { mAP50: 0.87, 'mAP50-95': 0.65 }, checkpoint_path: 's3://b/checkpoints/123/best.pt', mlflow_run_id: 'abc' };
const progress = (epoch: number) => ({ job_id: 123, status: 'running' as const, current_epoch: epoch, total_epochs: 50, progress_percent: (epoch / 50) * 100, metrics: { loss: 1.5, extra_metrics: { 'train/box_loss': 1.2 } } });

describe('callback client against a real HTTP server', () => {
  let rx: CallbackReceiver;
  beforeEach(async () => {
    rx = await startCallbackReceiver({ secret: SECRET });
  });
  afterEach(async () => {
    await rx.close();
  });
  const client = (over: Partial<Parameters<typeof createCallbackClient>[0]> = {}) =>
    createCallbackClient({ baseUrl: rx.url, jobId: '123', token: TOKEN, secret: SECRET, logger: capture().logger, baseDelayMs: 10, maxDelayMs: 50, timeoutMs: 2000, ...over });

  it('retries a 500 and delivers the same bytes, id and a valid signature', async () => {
    rx.script({ status: 500 });
    await client().completion(completion);
    expect(rx.received).toHaveLength(2);
    const [a, b] = rx.received;
    expect(a!.path).toBe('/api/v1/training/jobs/123/callback/completion');
    expect(b!.body).toBe(a!.body);
    expect(JSON.parse(b!.body)).toEqual(completion);
    expect(b!.body).toBe(JSON.stringify(completion)); // seed field order, nothing added
    expect(a!.headers['webhook-id']).toBe(b!.headers['webhook-id']);
    expect(b!.headers['webhook-id']).toBe(idempotencyId('123', 'completion', { status: 'completed' }));
    expect(b!.headers['authorization']).toBe(`Bearer ${TOKEN}`);
    expect(b!.headers['content-type']).toBe('application/json');
    expect(a!.signatureValid && b!.signatureValid).toBe(true);
  });

  it('honours Retry-After on 429', async () => {
    rx.script({ status: 429, headers: { 'retry-after': '1' } });
    await client().completion(completion);
    expect(rx.received).toHaveLength(2);
    expect(rx.received[1]!.at - rx.received[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it('times out a request that hangs and retries it', async () => {
    rx.script('hang');
    await client({ timeoutMs: 300 }).completion(completion);
    expect(rx.received).toHaveLength(2);
    expect(rx.received[1]!.body).toBe(rx.received[0]!.body);
  });

  it('retries after a connection reset', async () => {
    rx.script('reset', 'reset');
    await client().completion(completion);
    expect(rx.received).toHaveLength(3);
  });

  it('does not retry a 404, and reports exit code 2 for an undelivered completion', async () => {
    rx.script({ status: 404 });
    const err = await client().completion(completion).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CallbackUndeliveredError);
    expect((err as CallbackUndeliveredError).exitCode).toBe(ExitCode.CALLBACK_UNDELIVERED);
    expect(rx.received).toHaveLength(1);
  });

  it('gives up on a completion that never gets through, after its retries', async () => {
    rx.always({ status: 503 });
    const err = await client({ completionRetries: 3 }).completion(completion).catch((e: unknown) => e);
    expect((err as CallbackUndeliveredError).exitCode).toBe(2);
    expect(rx.received).toHaveLength(4);
  });

  it('never blocks on progress, and a newer pending progress replaces an older one', async () => {
    const c = client();
    for (let e = 1; e <= 5; e++) expect(c.progress(progress(e))).toBeUndefined();
    await c.flush();
    expect(rx.received.map((r) => (r.json as { current_epoch: number }).current_epoch)).toEqual([1, 5]);
    expect(new Set(rx.received.map((r) => r.headers['webhook-id'])).size).toBe(2);
  });

  it('a pending progress is replaced only by one of its own phase: the last epoch survives the upload that follows', async () => {
    const c = client();
    const uploading = (done: number) => ({ ...progress(5), phase: 'uploading' as const, phase_progress: { done, total: 3, unit: 'files' } });
    c.progress(progress(1)); // in flight
    c.progress(progress(4));
    c.progress(progress(5));
    c.progress(uploading(1));
    c.progress(uploading(2));
    await c.flush();
    const sent = rx.received.map((r) => r.json as { current_epoch: number; phase?: string; phase_progress?: { done: number } });
    expect(sent.map((p) => [p.phase ?? 'training', p.phase_progress?.done ?? p.current_epoch])).toEqual([
      ['training', 1],
      ['training', 5],
      ['uploading', 2],
    ]);
  });

  it('sends pending progress before the completion', async () => {
    const c = client();
    c.progress(progress(50));
    await c.completion(completion);
    expect(rx.received.map((r) => r.kind)).toEqual(['progress', 'completion']);
  });

  it('rejects a payload that breaks the schema before sending anything', () => {
    expect(() => client().progress({ ...progress(1), status: 'bogus' as 'running' })).toThrow();
    expect(rx.received).toHaveLength(0);
  });
});

describe('without CALLBACK_URL', () => {
  it('logs the payloads as JSON lines instead', async () => {
    const { lines, logger } = capture();
    const c = createCallbackClient({ jobId: '7', logger });
    c.progress(progress(1));
    await c.completion(completion);
    const records = lines.map((l) => JSON.parse(l) as { callback?: string; payload?: unknown });
    expect(records.filter((r) => r.callback).map((r) => r.callback)).toEqual(['progress', 'completion']);
    expect(records.find((r) => r.callback === 'completion')!.payload).toEqual(completion);
  });
});

describe('signing and Retry-After', () => {
  it('verifies its own signature and rejects a tampered body', () => {
    const sig = signWebhook(SECRET, 'msg_1', 1700000000, '{"a":1}');
    const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': '1700000000', 'webhook-signature': sig };
    expect(verifyWebhook(SECRET, headers, '{"a":1}')).toBe(true);
    expect(verifyWebhook(SECRET, headers, '{"a":2}')).toBe(false);
  });
  it('matches the Standard Webhooks reference vector', () => {
    // From the standard-webhooks spec test suite.
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const body = '{"test": 2432232314}';
    expect(signWebhook(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, body)).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});
