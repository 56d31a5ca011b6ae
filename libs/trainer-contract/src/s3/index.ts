export { createS3Client, readS3Env, type S3Env } from './env.js';
export { parseDatasetUri, archiveTypeOf, type ArchiveType, type DatasetSource } from './uri.js';
export { stageDataset, type StageOptions, type StageResult } from './stage.js';
export type { ProgressListener as StageProgressListener } from './progress.js';
export { createCheckpointStore, type CheckpointStore, type CheckpointStoreOptions } from './checkpoint.js';
export { unsafePathReason } from './keys.js';
export { extractArchive, DEFAULT_ARCHIVE_LIMITS, type ArchiveLimits } from './archive.js';
export { fetchModel, fetchObject } from './fetch-object.js';
