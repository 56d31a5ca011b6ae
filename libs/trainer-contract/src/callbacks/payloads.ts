import { z } from 'zod';
import { CALLBACK_ERROR_CODES } from '../errors/index.js';

/**
 * The seed sends `job_id` as a number (`"job_id": 123`); ids that are not plain integers are sent as strings.
 */
const jobIdSchema = z.union([z.number().int().nonnegative(), z.string().min(1)]);
export function jobIdForPayload(jobId: string): number | string {
  return /^(0|[1-9]\d{0,14})$/.test(jobId) ? Number(jobId) : jobId;
}

const finite = z.number().refine(Number.isFinite, 'must be a finite number');

const progressMetricsSchema = z
  .object({ extra_metrics: z.record(z.string(), z.number().nullable()).default({}) })
  .catchall(z.union([finite.nullable(), z.record(z.string(), z.number().nullable())]));

/** Where a job is: `training` for the seed's epoch progress, the others for the stages around it (added fields). */
export const PROGRESS_PHASES = ['staging', 'converting', 'training', 'uploading'] as const;
export type ProgressPhase = (typeof PROGRESS_PHASES)[number];

const phaseProgressSchema = z.object({
  /** Units done of `total` in this phase: objects while staging, files while uploading, steps while converting. */
  done: z.number().int().min(0),
  total: z.number().int().min(0),
  unit: z.string(),
  bytes_done: z.number().int().min(0).optional(),
  bytes_total: z.number().int().min(0).optional(),
});

export const progressPayloadSchema = z
  .object({
    job_id: jobIdSchema,
    status: z.enum(['running', 'interrupted']),
    current_epoch: z.number().int().min(0),
    total_epochs: z.number().int().min(1),
    progress_percent: z.number().min(0).max(100),
    metrics: progressMetricsSchema,
    epoch_time: z.number().nonnegative().optional(),
    timestamp: z.string().optional(),
    phase: z.enum(PROGRESS_PHASES).optional(),
    phase_progress: phaseProgressSchema.optional(),
    /** Seconds until the current phase ends, when it can be estimated (null when it cannot). */
    eta_seconds: z.number().nonnegative().nullable().optional(),
  })
  .describe('POST {CALLBACK_URL}/jobs/{JOB_ID}/callback/progress');
export type ProgressPayload = z.input<typeof progressPayloadSchema>;

export const completionPayloadSchema = z
  .object({
    job_id: jobIdSchema,
    status: z.enum(['completed', 'failed']),
    final_metrics: z.record(z.string(), finite.nullable()),
    checkpoint_path: z.string().nullable(),
    mlflow_run_id: z.string().nullable(),
    primary_metric: z.string().optional(),
    primary_metric_value: finite.nullable().optional(),
    best_epoch: z.number().int().min(0).optional(),
    error: z
      .object({
        code: z.enum(CALLBACK_ERROR_CODES),
        message: z.string(),
        /** Whether a retry of the Job can help (exit 1) or the user must fix something first (exit 3). */
        retriable: z.boolean().optional(),
        exit_code: z.number().int().optional(),
      })
      .optional(),
    timestamp: z.string().optional(),
  })
  .describe('POST {CALLBACK_URL}/jobs/{JOB_ID}/callback/completion');
export type CompletionPayload = z.input<typeof completionPayloadSchema>;

/** Non-finite values (a diverged loss) cannot travel in JSON; they become null. */
export function finiteOrNull(record: Record<string, number>): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const [k, v] of Object.entries(record)) out[k] = Number.isFinite(v) ? v : null;
  return out;
}
