import { z } from 'zod';

/** Numbers only: the Python side drops NaN/inf, which JSON cannot carry. */
const numberRecord = z.record(z.string(), z.number());

const trainStartEventSchema = z.object({
  event: z.literal('train_start'),
  epochs: z.number().int().min(0),
  start_epoch: z.number().int().min(0),
  save_dir: z.string(),
});

const epochEndEventSchema = z.object({
  event: z.literal('epoch_end'),
  /** 1-based. */
  epoch: z.number().int().min(1),
  /** The current total, when the framework re-estimates it (time budgets). */
  epochs: z.number().int().min(1).optional(),
  metrics: numberRecord,
  lr: numberRecord.optional().default({}),
  epoch_time: z.number().nullable().optional(),
});

const checkpointEventSchema = z.object({
  event: z.literal('checkpoint'),
  kind: z.enum(['last', 'best']),
  path: z.string().min(1),
  epoch: z.number().int().min(0),
});

const trainEndEventSchema = z.object({
  event: z.literal('train_end'),
  best_epoch: z.number().int().min(0),
  final_metrics: numberRecord,
  save_dir: z.string(),
  /** The finished checkpoints, when the framework names them. */
  best: z.string().nullable().optional(),
  last: z.string().nullable().optional(),
});

/** A liveness signal from inside an epoch (throttled by the runtime), for the stall watchdog. */
const heartbeatEventSchema = z.object({
  event: z.literal('heartbeat'),
  step: z.number().int().min(0),
});

const errorEventSchema = z.object({
  event: z.literal('error'),
  type: z.string(),
  message: z.string(),
  traceback: z.string().optional().default(''),
});

/** `--preload`: the framework imported; the bridge waits for the go-ahead on stdin. */
const readyEventSchema = z.object({
  event: z.literal('ready'),
  module: z.string(),
  version: z.string(),
});

/** `--preload` or `--check`: the answer to a check the trainer asked (`run(train, check=…)`), by request id. */
const checkedEventSchema = z.object({
  event: z.literal('checked'),
  id: z.number().int().min(0),
  result: z.unknown().optional(),
  error: z.string().optional(),
});

export const bridgeEventSchema = z.discriminatedUnion('event', [
  readyEventSchema,
  checkedEventSchema,
  trainStartEventSchema,
  epochEndEventSchema,
  checkpointEventSchema,
  trainEndEventSchema,
  heartbeatEventSchema,
  errorEventSchema,
]);

export type BridgeEvent = z.output<typeof bridgeEventSchema>;
export type TrainStartBridgeEvent = z.output<typeof trainStartEventSchema>;
export type EpochEndBridgeEvent = z.output<typeof epochEndEventSchema>;
export type CheckpointBridgeEvent = z.output<typeof checkpointEventSchema>;
export type TrainEndBridgeEvent = z.output<typeof trainEndEventSchema>;
export type HeartbeatBridgeEvent = z.output<typeof heartbeatEventSchema>;
export type ErrorBridgeEvent = z.output<typeof errorEventSchema>;
export type CheckedBridgeEvent = z.output<typeof checkedEventSchema>;

/** One fd-3 line → an event, or the reason it is not one. */
export function parseBridgeLine(line: string): { ok: true; event: BridgeEvent } | { ok: false; reason: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  const parsed = bridgeEventSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: `${issue?.path.join('.') || 'event'}: ${issue?.message ?? 'invalid'}` };
  }
  return { ok: true, event: parsed.data };
}
