import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { defineConfig } from '../config/index.js';
import { InterruptedError, ModelUnavailableError, TrainingFailedError } from '../errors/index.js';
import type { Task } from '../domain/index.js';
import type { TrainerDriver } from '../lifecycle/types.js';

export const scriptedConfigSchema = defineConfig(
  { lr0: z.number().gt(0).max(10).default(0.01), optimizer: z.enum(['SGD', 'Adam', 'AdamW', 'auto']).default('auto') },
  { ownedKeys: { data: 'the trainer sets it from --dataset-s3-uri', resume: 'the trainer resumes by itself from checkpoints/{job_id}/last.pt' } },
);
export type ScriptedConfig = z.output<typeof scriptedConfigSchema>;

/**
 * An in-process driver for lifecycle tests: it "trains" by writing real checkpoint files and
 * reporting made-up, deterministic metrics, so the lifecycle around it can be tested for real.
 */
export function createScriptedDriver(opts: { epochMs?: number; failAtEpoch?: number; models?: string[] } = {}): TrainerDriver<ScriptedConfig> & { trainedFrom: Array<string | undefined>; resumedBest: Array<string | undefined> } {
  const trainedFrom: Array<string | undefined> = [];
  const resumedBest: Array<string | undefined> = [];
  return {
    name: 'scripted',
    version: '0.0.1-test',
    configSchema: scriptedConfigSchema,
    trainedFrom,
    resumedBest,
    resumeReadsBest: true,
    resolveTask: (_model, config) => (config.task as Task | undefined) ?? 'detect',
    defaultPrimaryMetric: () => 'mAP50-95',
    datasetFormat: () => 'yolo',
    async preflight({ modelName }) {
      if (opts.models && !opts.models.includes(modelName)) throw new ModelUnavailableError(`--model-name: unknown model "${modelName}"`);
    },
    async train(ctx) {
      trainedFrom.push(ctx.resumeFrom);
      resumedBest.push(ctx.resumeBest);
      const weights = join(ctx.runDir, 'weights');
      await mkdir(weights, { recursive: true });
      let start = 1;
      if (ctx.resumeFrom) {
        const { readFile } = await import('node:fs/promises');
        start = Number(JSON.parse(await readFile(ctx.resumeFrom, 'utf8')).epoch) + 1;
      }
      const metricsAt = (e: number) => ({ mAP50: e / 10, 'mAP50-95': e / 20, loss: 1 / e });
      for (let epoch = start; epoch <= ctx.config.epochs; epoch++) {
        await sleep(opts.epochMs ?? 5);
        if (ctx.signal.aborted) throw new InterruptedError(`stopped during epoch ${epoch}`);
        if (opts.failAtEpoch === epoch) throw new TrainingFailedError(`RuntimeError: scripted failure at epoch ${epoch}`, { detail: 'Traceback (most recent call last): ...' });
        const last = join(weights, 'last.pt');
        // Replace by rename, as the contract asks of drivers, so an upload in flight keeps its file.
        await writeFile(`${last}.tmp`, JSON.stringify({ epoch, optimizer: 'state' }));
        await rename(`${last}.tmp`, last);
        // Every epoch improves on the last one's metrics, so each is the best so far.
        const best = join(weights, 'best.pt');
        await writeFile(`${best}.tmp`, JSON.stringify({ epoch, best: true }));
        await rename(`${best}.tmp`, best);
        ctx.onCheckpoint({ kind: 'last', path: last, epoch });
        ctx.onCheckpoint({ kind: 'best', path: best, epoch });
        const metrics = metricsAt(epoch);
        ctx.onEpochEnd({ epoch, totalEpochs: ctx.config.epochs, metrics, rawMetrics: { 'metrics/mAP50(B)': metrics.mAP50, 'metrics/mAP50-95(B)': metrics['mAP50-95'] }, epochTime: 0.01 });
      }
      await writeFile(join(ctx.runDir, 'results.csv'), 'epoch,metrics/mAP50(B)\n');
      const best = ctx.config.epochs;
      const m = metricsAt(best);
      return {
        bestEpoch: best,
        finalMetrics: m,
        rawFinalMetrics: { 'metrics/mAP50(B)': m.mAP50 },
        bestCheckpoint: join(weights, 'best.pt'),
        lastCheckpoint: join(weights, 'last.pt'),
        artifacts: [join(ctx.runDir, 'results.csv')],
        saveDir: ctx.runDir,
      };
    },
  };
}
