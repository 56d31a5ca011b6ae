import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { PassThrough } from 'node:stream';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { runTrainerCli } from './run.js';
import { createS3Client } from '../s3/index.js';
import {
  createScriptedDriver,
  refusedEndpoint,
  startCallbackReceiver,
  startS3OutageProxy,
  startS3Server,
  writeShapesDataset,
  type CallbackReceiver,
  type OutageMode,
  type S3TestServer,
} from '../testing/index.js';

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out;
}

interface JobRun {
  code: number;
  out: string;
  err: string;
  termination: string;
  /** When the first stderr byte was written. */
  errAt?: number;
  ms: number;
}

describe('reliability: failures classified, epochs kept, the user told first, an S3 event record', () => {
  let s3: S3TestServer;
  let root: string;

  beforeAll(async () => {
    s3 = await startS3Server({ buckets: ['datasets', 'ckpts'] });
    root = await mkdtemp(join(tmpdir(), 'reliability-'));
    const datasetDir = join(root, 'shapes');
    await writeShapesDataset(datasetDir, { images: 8, size: 32 });
    const client = createS3Client(s3.env);
    for (const file of await walk(datasetDir)) {
      await client.send(new PutObjectCommand({ Bucket: 'datasets', Key: `shapes/${relative(datasetDir, file)}`, Body: await readFile(file) }));
    }
    await client.send(new PutObjectCommand({ Bucket: 'datasets', Key: 'models/w.pt', Body: 'weights' }));
    client.destroy();
  }, 120_000);
  afterAll(async () => {
    await s3?.close();
  });

  async function runJob(o: {
    jobId: string;
    config?: object | string;
    driver?: ReturnType<typeof createScriptedDriver>;
    rx?: CallbackReceiver;
    env?: NodeJS.ProcessEnv;
    dataset?: string;
    model?: string;
    signal?: AbortSignal;
    workSuffix?: string;
  }): Promise<JobRun> {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    let errAt: number | undefined;
    stdout.on('data', (c: Buffer) => (out += c.toString()));
    stderr.on('data', (c: Buffer) => {
      errAt ??= Date.now();
      err += c.toString();
    });
    const termLog = join(root, `${o.jobId}${o.workSuffix ?? ''}-termination.log`);
    const argv = [
      '--job-id', o.jobId,
      '--model-name', o.model ?? 'scripted-n',
      '--dataset-s3-uri', o.dataset ?? 's3://datasets/shapes/',
      '--config', typeof o.config === 'string' ? o.config : JSON.stringify(o.config ?? { epochs: 2 }),
      '--work-dir', join(root, `work-${o.jobId}${o.workSuffix ?? ''}`),
      ...(o.rx ? ['--callback-url', o.rx.url] : []),
    ];
    const env = { ...s3.env, S3_BUCKET: 'ckpts', TERMINATION_LOG: termLog, PROGRESS_PHASE_INTERVAL_S: '0', ...o.env };
    const started = Date.now();
    const code = await runTrainerCli(argv, o.driver ?? createScriptedDriver(), { env, stdout, stderr, handleSignals: false, signal: o.signal });
    const ms = Date.now() - started;
    const termination = await readFile(termLog, 'utf8').catch(() => '');
    return { code, out, err, termination, errAt, ms };
  }

  const getText = async (key: string): Promise<string | null> => {
    const client = createS3Client(s3.env);
    try {
      const res = await client.send(new GetObjectCommand({ Bucket: 'ckpts', Key: key }));
      return await res.Body!.transformToString('utf8');
    } catch {
      return null;
    } finally {
      client.destroy();
    }
  };
  const completionOf = (rx: CallbackReceiver) => rx.received.find((r) => r.kind === 'completion')?.json as Record<string, unknown> | undefined;
  const record = async (jobId: string) =>
    ((await getText(`checkpoints/${jobId}/events.jsonl`)) ?? '')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { seq: number; webhook_id: string; kind: string; payload: Record<string, unknown> });
  /** Each event the receiver got, once, in the order of first arrival. */
  const uniqueReceived = (rx: CallbackReceiver) => {
    const seen = new Set<string>();
    return rx.received.filter((r) => {
      const id = String(r.headers['webhook-id']);
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    });
  };

  describe('the user\'s mistake first', () => {
    it('a config typo with the backend down is printed before any callback attempt and exits 3 within CALLBACK_FAILURE_BUDGET_S', async () => {
      const rx = await startCallbackReceiver();
      rx.always({ status: 503 });
      try {
        const r = await runJob({ jobId: 'typo-1', rx, config: { epoch: 5 }, env: { CALLBACK_FAILURE_BUDGET_S: '2' } });
        expect(r.code).toBe(3);
        expect(r.err).toBe('trainer-scripted: config.epoch: unknown key (did you mean "epochs"?)\n');
        expect(rx.received.length).toBeGreaterThan(0);
        expect(r.errAt).toBeLessThanOrEqual(rx.received[0]!.at);
        // Without the budget the completion's 8 retries take over a minute; the budget stops them.
        expect(r.out).toMatch(/the reporting budget ran out/);
        expect(r.ms).toBeLessThan(15_000);
        expect(JSON.parse(r.termination)).toEqual({ code: 'CONFIG_INVALID', message: 'config.epoch: unknown key (did you mean "epochs"?)', exit_code: 3, retriable: false });
        expect(completionOf(rx)).toMatchObject({ status: 'failed', error: { code: 'CONFIG_INVALID', retriable: false, exit_code: 3 } });
        // A user's mistake writes nothing outside WORK_DIR: no event record either.
        expect(await getText('checkpoints/typo-1/events.jsonl')).toBeNull();
      } finally {
        await rx.close();
      }
    });

    it('refuses a bad CALLBACK_FAILURE_BUDGET_S with exit 3', async () => {
      const r = await runJob({ jobId: 'typo-2', env: { CALLBACK_FAILURE_BUDGET_S: 'soon' } });
      expect(r.code).toBe(3);
      expect(r.err).toBe('trainer-scripted: CALLBACK_FAILURE_BUDGET_S: expected seconds from 0 to 3600, got "soon"\n');
    });
  });

  describe('S3 failures: retriable infrastructure (exit 1) or the user\'s to fix (exit 3)', () => {
    const cases: Array<{ name: string; mode: OutageMode | 'refused'; env?: NodeJS.ProcessEnv }> = [
      { name: 'connections refused', mode: 'refused' },
      { name: 'every connection reset', mode: 'reset' },
      // Fewer tries inside the SDK keep the test short; the classification after the last try is the same.
      { name: 'a 503 SlowDown storm', mode: '503', env: { S3_MAX_ATTEMPTS: '2' } },
      { name: 'object bodies that hang', mode: 'hang-body', env: { S3_REQUEST_TIMEOUT_S: '1', S3_MAX_ATTEMPTS: '2' } },
    ];
    it.each(cases)('$name → STORAGE_UNAVAILABLE, retriable, exit 1, in the completion and the termination log', async ({ mode, env }) => {
      const rx = await startCallbackReceiver();
      const proxy = mode === 'refused' ? undefined : await startS3OutageProxy({ target: s3.endpoint, mode });
      const endpoint = proxy?.endpoint ?? (await refusedEndpoint());
      try {
        const r = await runJob({ jobId: `s3-${mode}`, rx, env: { S3_ENDPOINT: endpoint, ...env } });
        expect(r.code).toBe(1);
        const lines = r.err.trim().split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(/^trainer-scripted: .*S3 unavailable after retries/);
        expect(r.err).not.toMatch(/\n\s+at /);
        expect(completionOf(rx)).toMatchObject({ status: 'failed', error: { code: 'STORAGE_UNAVAILABLE', retriable: true, exit_code: 1 } });
        expect(JSON.parse(r.termination)).toMatchObject({ code: 'STORAGE_UNAVAILABLE', exit_code: 1, retriable: true });
        expect(r.out).not.toMatch(/"code":"INTERNAL"/);
        if (proxy) expect(proxy.stats.faulted).toBeGreaterThan(0);
      } finally {
        await proxy?.close();
        await rx.close();
      }
    }, 120_000);

    it.each([
      { name: 'a missing bucket', dataset: 's3://no-such-bucket-r1/shapes/', message: /s3:\/\/no-such-bucket-r1\/shapes\/: bucket does not exist/ },
      { name: 'a missing prefix', dataset: 's3://datasets/no-such-prefix/', message: /s3:\/\/datasets\/no-such-prefix\/: no objects under this prefix/ },
      { name: 'access denied (403)', dataset: 's3://datasets/shapes/', mode: '403' as const, message: /access denied/ },
    ])('$name → DATA_UNAVAILABLE, not retriable, exit 3', async ({ dataset, mode, message }) => {
      const rx = await startCallbackReceiver();
      const proxy = mode ? await startS3OutageProxy({ target: s3.endpoint, mode }) : undefined;
      try {
        const r = await runJob({ jobId: `s3-user-${mode ?? dataset.length}`, rx, dataset, env: proxy ? { S3_ENDPOINT: proxy.endpoint } : {} });
        expect(r.code).toBe(3);
        const lines = r.err.trim().split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(message);
        expect(completionOf(rx)).toMatchObject({ status: 'failed', error: { code: 'DATA_UNAVAILABLE', retriable: false, exit_code: 3 } });
        expect(JSON.parse(r.termination)).toMatchObject({ code: 'DATA_UNAVAILABLE', exit_code: 3, retriable: false });
      } finally {
        await proxy?.close();
        await rx.close();
      }
    }, 60_000);

    it('s3:// weights: a store answering 503 is MODEL_SOURCE_UNAVAILABLE (exit 1), absent weights MODEL_UNAVAILABLE (exit 3)', async () => {
      const proxy = await startS3OutageProxy({ target: s3.endpoint, mode: '503' });
      try {
        const down = await runJob({ jobId: 'weights-down', model: 's3://datasets/models/w.pt', env: { S3_ENDPOINT: proxy.endpoint, S3_MAX_ATTEMPTS: '2' } });
        expect(down.code).toBe(1);
        expect(JSON.parse(down.termination)).toMatchObject({ code: 'MODEL_SOURCE_UNAVAILABLE', exit_code: 1, retriable: true });
        expect(down.err).toMatch(/^trainer-scripted: --model-name: s3:\/\/datasets\/models\/w\.pt: S3 unavailable after retries/);
      } finally {
        await proxy.close();
      }
      const missing = await runJob({ jobId: 'weights-missing', model: 's3://datasets/models/absent.pt' });
      expect(missing.code).toBe(3);
      expect(JSON.parse(missing.termination)).toMatchObject({ code: 'MODEL_UNAVAILABLE', exit_code: 3, retriable: false });
    }, 120_000);
  });

  describe('no trained epoch lost', () => {
    it('a crash at epoch 9 with checkpoint_interval 5 leaves epoch 8\'s last.pt in S3, and the record holds every event', async () => {
      const rx = await startCallbackReceiver();
      try {
        const r = await runJob({ jobId: 'crash-9', rx, config: { epochs: 10, checkpoint_interval: 5 }, driver: createScriptedDriver({ failAtEpoch: 9 }) });
        expect(r.code).toBe(1);
        expect(JSON.parse((await getText('checkpoints/crash-9/last.pt'))!)).toMatchObject({ epoch: 8 });
        expect(completionOf(rx)).toMatchObject({ status: 'failed', error: { code: 'TRAINING_FAILED', retriable: true, exit_code: 1 } });
        const rec = await record('crash-9');
        expect(rec.map((e) => e.webhook_id)).toEqual(uniqueReceived(rx).map((q) => q.headers['webhook-id']));
        expect(rec.map((e) => e.seq)).toEqual(rec.map((_, i) => i + 1));
        expect(rec.at(-1)).toMatchObject({ kind: 'completion', payload: { status: 'failed' } });
      } finally {
        await rx.close();
      }
    });
  });

  describe('the S3 event record', () => {
    it('after a success: every event sent, once, in order, with its webhook-id; phases around training reported', async () => {
      const rx = await startCallbackReceiver();
      try {
        const r = await runJob({ jobId: 'rec-ok', rx, config: { epochs: 3 } });
        expect(r.code).toBe(0);
        const rec = await record('rec-ok');
        const got = uniqueReceived(rx);
        expect(rec.map((e) => e.webhook_id)).toEqual(got.map((q) => q.headers['webhook-id']));
        expect(rec.map((e) => e.payload)).toEqual(got.map((q) => q.json));
        expect(rec.at(-1)).toMatchObject({ kind: 'completion', payload: { status: 'completed' } });
        const phases = rec.filter((e) => e.kind === 'progress').map((e) => e.payload['phase']);
        expect(phases).toEqual(expect.arrayContaining(['staging', 'converting', 'training', 'uploading']));
        // Phases in the order the job goes through them.
        const firstOf = (p: string) => phases.indexOf(p);
        expect(firstOf('staging')).toBeLessThan(firstOf('converting'));
        expect(firstOf('converting')).toBeLessThan(firstOf('training'));
        expect(firstOf('training')).toBeLessThan(firstOf('uploading'));
        const staged = rec.filter((e) => e.payload['phase'] === 'staging').at(-1)!.payload;
        const objects = (await walk(join(root, 'shapes'))).length;
        expect(staged).toMatchObject({ status: 'running', current_epoch: 0, phase_progress: { done: objects, total: objects, unit: 'objects' }, eta_seconds: 0 });
        expect((staged['phase_progress'] as { bytes_done: number }).bytes_done).toBeGreaterThan(0);
        const training = rec.filter((e) => e.payload['phase'] === 'training').map((e) => e.payload['current_epoch']);
        expect(training).toEqual([1, 2, 3]);
      } finally {
        await rx.close();
      }
    });

    it('after exit 2 (completion undelivered): the completion is in the record', async () => {
      const rx = await startCallbackReceiver();
      rx.always({ status: 500 });
      try {
        const r = await runJob({ jobId: 'rec-exit2', rx, env: { CALLBACK_RETRIES: '1' } });
        expect(r.code).toBe(2);
        const rec = await record('rec-exit2');
        expect(rec.at(-1)).toMatchObject({ kind: 'completion', payload: { status: 'completed', checkpoint_path: 's3://ckpts/checkpoints/rec-exit2/best.pt' } });
        expect(rec.map((e) => e.webhook_id)).toEqual(uniqueReceived(rx).map((q) => q.headers['webhook-id']));
        expect(JSON.parse(r.termination)).toMatchObject({ code: 'CALLBACK_UNDELIVERED', exit_code: 2, retriable: false });
      } finally {
        await rx.close();
      }
    });

    it('after SIGTERM and a resume: one record across both attempts, every event once, in order', async () => {
      const rx = await startCallbackReceiver();
      try {
        const ac = new AbortController();
        const first = runJob({ jobId: 'rec-resume', rx, config: { epochs: 5 }, driver: createScriptedDriver({ epochMs: 150 }), signal: ac.signal });
        await rx.waitFor((all) => all.some((q) => (q.json as { phase?: string; current_epoch?: number }).phase === 'training' && (q.json as { current_epoch: number }).current_epoch >= 2));
        ac.abort();
        expect((await first).code).toBe(143);
        const afterFirst = await record('rec-resume');
        expect(afterFirst.at(-1)).toMatchObject({ kind: 'progress', payload: { status: 'interrupted' } });
        const second = await runJob({ jobId: 'rec-resume', rx, config: { epochs: 5 }, workSuffix: '-b' });
        expect(second.code).toBe(0);
        const rec = await record('rec-resume');
        expect(rec.slice(0, afterFirst.length)).toEqual(afterFirst);
        expect(rec.map((e) => e.seq)).toEqual(rec.map((_, i) => i + 1));
        expect(new Set(rec.map((e) => e.webhook_id)).size).toBe(rec.length);
        expect(rec.map((e) => e.webhook_id)).toEqual(uniqueReceived(rx).map((q) => q.headers['webhook-id']));
        const epochs = rec.filter((e) => e.payload['phase'] === 'training' && e.payload['status'] === 'running').map((e) => e.payload['current_epoch'] as number);
        expect(epochs).toEqual([...epochs].sort((a, b) => a - b));
        expect(epochs.at(-1)).toBe(5);
        expect(rec.at(-1)).toMatchObject({ kind: 'completion', payload: { status: 'completed' } });
      } finally {
        await rx.close();
      }
    }, 60_000);
  });
});
