import { createCheckpointStore, fetchModel, stageDataset } from '../s3/index.js';
import { prepareDataset, summarizeReport } from '../convert/index.js';
import { createTracker } from '../mlflow/index.js';
import type { LifecycleServices } from './services.js';

export const defaultServices: LifecycleServices = {
  stageDataset: (uri, opts) => stageDataset(uri, opts),
  prepareDataset: (opts) => prepareDataset(opts),
  summarizeReport: (report) => summarizeReport(report),
  createOutputStore: (opts) => createCheckpointStore(opts),
  createTracker: (opts) => createTracker(opts),
  fetchModel: (uri, opts) => fetchModel(uri, opts),
};
