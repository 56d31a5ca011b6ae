import { basename, join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { createCheckpointStore, stageDataset } from '../s3/index.js';
import { prepareDataset, summarizeReport } from '../convert/index.js';
import { createTracker } from '../mlflow/index.js';
import type { LifecycleServices } from './services.js';

export const defaultServices: LifecycleServices = {
  stageDataset: (uri, opts) => stageDataset(uri, opts),
  prepareDataset: (opts) => prepareDataset(opts),
  summarizeReport: (report) => summarizeReport(report),
  createOutputStore: (opts) => createCheckpointStore(opts),
  createTracker: (opts) => createTracker(opts),
  async fetchModel(uri, { destDir, env, logger }) {
    // A model URI is `s3://bucket/key.pt`: stage its folder's single object through the same safe downloader.
    await mkdir(destDir, { recursive: true });
    const staged = await stageDataset(uri, { workDir: destDir, env, logger });
    return join(staged.dir, basename(new URL(uri).pathname));
  },
};
