export type {
  ClassCounts,
  ConversionReport,
  ConvertTuning,
  CocoSplitFiles,
  ImageFolderSplits,
  PreparedDataset,
  PrepareOptions,
  ReportGroup,
  SplitConfig,
  SplitCounts,
} from './types.js';
export { prepareDataset, parseSplitConfig } from './prepare.js';
export { summarizeReport, REASONS } from './report.js';
export { splitConfigSchema, splitHash, type ParsedSplitConfig } from './split.js';
export { inferTaskFromModelName } from './task.js';
export { readImageSize } from './image-size.js';
