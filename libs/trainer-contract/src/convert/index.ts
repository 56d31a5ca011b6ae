export type {
  ClassEntry,
  ClassCounts,
  ConversionReport,
  ConvertTuning,
  DatasetFormat,
  PreparedDataset,
  PrepareOptions,
  ReportGroup,
  SplitConfig,
  SplitCounts,
  SplitName,
} from './types.js';
export { prepareDataset, parseSplitConfig } from './prepare.js';
export { summarizeReport, REASONS } from './report.js';
export { splitConfigSchema, splitHash, type ParsedSplitConfig } from './split.js';
export { inferTaskFromModelName } from './task.js';
export { readImageSize } from './image-size.js';
