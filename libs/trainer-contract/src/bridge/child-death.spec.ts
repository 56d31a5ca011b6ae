import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { defineConfig } from '../config/index.js';
import { createPythonBridgeDriver } from './index.js';
import { createS3Client } from '../s3/index.js';
import { startCallbackReceiver, startS3Server, writeShapesDataset, type S3TestServer } from '../testing/index.js';
import { runTrainerCli } from '../lifecycle/run.js';

const PYTHON = '/usr/bin/python3';

// A scripted trainer on the real bridge runtime: a real Python child that reports like a framework and, on cue,
// dies the ways a real one can but cannot be made to on cue (SIGKILL as the OOM killer sends it, a hang).
const BRIDGE = `
import json, os, signal, time
from pathlib import Path
from trainer_bridge import run

def train(ctx):
    spec = ctx.spec
    run_dir = Path(spec["run_dir"])
    weights = run_dir / "weights"
    weights.mkdir(parents=True, exist_ok=True)
    epochs = spec["epochs"]
    ctx.train_start(epochs=epochs, start_epoch=0, save_dir=run_dir)
    for epoch in range(1, epochs + 1):
        if epoch == spec["die_at"]:
            if spec["how"] == "oom":
                Path(os.environ["TRAINER_OOM_EVENTS_FILE"]).write_text("oom 1\\noom_kill 1\\n")
            if spec["how"] == "stop":
                os.kill(os.getpid(), signal.SIGSTOP)
            else:
                os.kill(os.getpid(), signal.SIGKILL)
        ctx.raise_if_stopped()
        ctx.heartbeat(epoch)
        (weights / "last.pt").write_text(json.dumps({"epoch": epoch}))
        ctx.checkpoint("last", weights / "last.pt", epoch)
        ctx.epoch_end(epoch, {"raw/loss": 1 / epoch}, epoch_time=0.01)
    (weights / "best.pt").write_text("best")
    ctx.train_end(epochs, {"raw/loss": 1 / epochs}, run_dir)

run(train)
`;

const schema = defineConfig({});
type Config = z.output<typeof schema>;

describe('no trained epoch lost when the Python child dies or hangs (real child, real s3rver)', () => {
  let s3: S3TestServer;
  let base: string;
  let appRoot: string;
  let dataset: string;

  beforeAll(async () => {
    s3 = await startS3Server({ buckets: ['ckpts'] });
    base = mkdtempSync(join(tmpdir(), 'child-death-'));
    appRoot = join(base, 'app');
    mkdirSync(join(appRoot, 'python'), { recursive: true });
    writeFileSync(join(appRoot, 'python', 'bridge.py'), BRIDGE);
    writeFileSync(join(appRoot, 'requirements.txt'), '');
    dataset = join(base, 'shapes');
    await writeShapesDataset(dataset, { images: 6, size: 32 });
  }, 60_000);
  afterAll(async () => {
    await s3?.close();
    await rm(base, { recursive: true, force: true });
  });

  function driver(how: 'kill' | 'oom' | 'stop', dieAt: number, oomFile: string) {
    return createPythonBridgeDriver<Config>({
      name: 'child',
      version: '0.0.1',
      framework: { module: 'json', testedRange: '>=2.0' },
      appRoot,
      configSchema: schema as never,
      tasks: ['detect'],
      resolveTask: () => 'detect',
      datasetFormat: 'coco',
      canonicalMetrics: (_t, raw): Record<string, number> => (raw['raw/loss'] !== undefined ? { loss: raw['raw/loss'] } : {}),
      metricNames: () => ['loss', 'mAP50-95'],
      defaultPrimaryMetric: () => 'loss',
      buildSpec: (ctx) => ({ epochs: ctx.config.epochs, die_at: dieAt, how }),
      env: { PATH: process.env['PATH'], TRAINER_PYTHON: PYTHON, TRAINER_OOM_EVENTS_FILE: oomFile },
      killGraceMs: 1000,
    });
  }

  async function run(jobId: string, how: 'kill' | 'oom' | 'stop', dieAt: number, config: object) {
    const oomFile = join(base, `${jobId}.memory.events`);
    writeFileSync(oomFile, 'oom 0\noom_kill 0\n');
    const rx = await startCallbackReceiver();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let err = '';
    stdout.resume();
    stderr.on('data', (c: Buffer) => (err += c.toString()));
    const termLog = join(base, `${jobId}.termination`);
    try {
      const code = await runTrainerCli(
        ['--job-id', jobId, '--model-name', 'm', '--dataset-s3-uri', dataset, '--config', JSON.stringify(config), '--work-dir', join(base, `work-${jobId}`), '--callback-url', rx.url],
        driver(how, dieAt, oomFile),
        { env: { ...s3.env, S3_BUCKET: 'ckpts', TERMINATION_LOG: termLog }, stdout, stderr, handleSignals: false },
      );
      const completion = rx.received.find((r) => r.kind === 'completion')?.json as Record<string, unknown> | undefined;
      const client = createS3Client(s3.env);
      const res = await client.send(new GetObjectCommand({ Bucket: 'ckpts', Key: `checkpoints/${jobId}/last.pt` }));
      const last = JSON.parse(await res.Body!.transformToString('utf8')) as { epoch: number };
      client.destroy();
      return { code, err, completion, last, termination: JSON.parse(await readFile(termLog, 'utf8')) as Record<string, unknown> };
    } finally {
      await rx.close();
    }
  }

  it('SIGKILL of the child at epoch 9 with checkpoint_interval 5: last.pt of epoch 8 in S3, TRAINING_FAILED, exit 1', async () => {
    const r = await run('kill-9', 'kill', 9, { epochs: 10, checkpoint_interval: 5 });
    expect(r.code).toBe(1);
    expect(r.last.epoch).toBe(8);
    expect(r.err.trim()).toBe('trainer-child: the framework was killed by SIGKILL (not by the OOM killer: the cgroup oom_kill count did not change)');
    expect(r.completion).toMatchObject({ status: 'failed', error: { code: 'TRAINING_FAILED', retriable: true, exit_code: 1 } });
    expect(r.termination).toMatchObject({ code: 'TRAINING_FAILED', exit_code: 1, retriable: true });
  }, 120_000);

  it('an OOM kill (the cgroup oom_kill count went up) is OUT_OF_MEMORY, and epoch 8 is still saved', async () => {
    const r = await run('oom-9', 'oom', 9, { epochs: 10, checkpoint_interval: 5 });
    expect(r.code).toBe(1);
    expect(r.last.epoch).toBe(8);
    expect(r.completion).toMatchObject({ status: 'failed', error: { code: 'OUT_OF_MEMORY', retriable: true, exit_code: 1 } });
  }, 120_000);

  it('a child stopped with SIGSTOP: STALLED after stall_timeout_s, the newest last.pt in S3, exit 1', async () => {
    const r = await run('stop-4', 'stop', 4, { epochs: 6, checkpoint_interval: 5, stall_timeout_s: 2 });
    expect(r.code).toBe(1);
    expect(r.last.epoch).toBe(3);
    expect(r.err.trim()).toBe('trainer-child: training stalled: no heartbeat or epoch from the framework for 2 s (stall_timeout_s); stopped it');
    expect(r.completion).toMatchObject({ status: 'failed', error: { code: 'STALLED', retriable: true, exit_code: 1 } });
    expect(r.termination).toMatchObject({ code: 'STALLED', exit_code: 1, retriable: true });
  }, 120_000);
});
