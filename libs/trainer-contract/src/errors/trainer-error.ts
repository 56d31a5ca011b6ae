/** Exit codes of the contract (CONTRACT §5). */
export const ExitCode = {
  OK: 0,
  FAILED: 1,
  CALLBACK_UNDELIVERED: 2,
  INVALID_INPUT: 3,
  INTERRUPTED: 143,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Error codes a failed completion callback may carry (CONTRACT §4). */
export const CALLBACK_ERROR_CODES = [
  'CONFIG_INVALID',
  'DATA_INVALID',
  'DATA_UNAVAILABLE',
  'MODEL_UNAVAILABLE',
  'TRAINING_FAILED',
  'OUT_OF_MEMORY',
  'CHECKPOINT_UPLOAD_FAILED',
  'INTERNAL',
  // Added by issue 15 (the seed's codes above keep their meaning): infrastructure down after its retries.
  'STORAGE_UNAVAILABLE',
  'MODEL_SOURCE_UNAVAILABLE',
  'STALLED',
] as const;
export type CallbackErrorCode = (typeof CALLBACK_ERROR_CODES)[number];

/** Codes that never reach a completion callback: they describe the run's ending, not a failure of training. */
export type OutcomeCode = 'CALLBACK_UNDELIVERED' | 'INTERRUPTED';
export type ErrorCode = CallbackErrorCode | OutcomeCode;

/**
 * The one table that maps every error code to its exit code, whether the user caused it, and whether a retry of
 * the Job can help (CONTRACT §5). `retriable` is what a backend and a podFailurePolicy act on: exit 1 is always
 * retriable, exit 3 never.
 */
export const ERROR_TABLE: Record<ErrorCode, { exitCode: ExitCode; userError: boolean; retriable: boolean }> = {
  CONFIG_INVALID: { exitCode: ExitCode.INVALID_INPUT, userError: true, retriable: false },
  DATA_INVALID: { exitCode: ExitCode.INVALID_INPUT, userError: true, retriable: false },
  /** The data is not there: a missing bucket, key or prefix, or access denied. */
  DATA_UNAVAILABLE: { exitCode: ExitCode.INVALID_INPUT, userError: true, retriable: false },
  /** An unknown model name, or weights that are missing or not this framework's. */
  MODEL_UNAVAILABLE: { exitCode: ExitCode.INVALID_INPUT, userError: true, retriable: false },
  TRAINING_FAILED: { exitCode: ExitCode.FAILED, userError: false, retriable: true },
  OUT_OF_MEMORY: { exitCode: ExitCode.FAILED, userError: false, retriable: true },
  CHECKPOINT_UPLOAD_FAILED: { exitCode: ExitCode.FAILED, userError: false, retriable: true },
  /** A bug in the trainer; the stack goes to the log only. */
  INTERNAL: { exitCode: ExitCode.FAILED, userError: false, retriable: true },
  /** S3 (dataset, weights or checkpoints) refused, reset, timed out, 5xx or throttled after its retries. */
  STORAGE_UNAVAILABLE: { exitCode: ExitCode.FAILED, userError: false, retriable: true },
  /** A model hub or weights download that failed on the network after its retries. */
  MODEL_SOURCE_UNAVAILABLE: { exitCode: ExitCode.FAILED, userError: false, retriable: true },
  /** No heartbeat or epoch for `stall_timeout_s`: the framework was stopped. */
  STALLED: { exitCode: ExitCode.FAILED, userError: false, retriable: true },
  CALLBACK_UNDELIVERED: { exitCode: ExitCode.CALLBACK_UNDELIVERED, userError: false, retriable: false },
  INTERRUPTED: { exitCode: ExitCode.INTERRUPTED, userError: false, retriable: true },
};

/**
 * Base of every error the trainer reports on purpose. `problems` holds one line per problem
 * (for a config with three bad fields, three lines); `message` is those lines joined.
 */
export class TrainerError extends Error {
  readonly code: ErrorCode;
  readonly problems: readonly string[];
  /** Extra text for the log only (a Python traceback tail, say); never sent in a callback. */
  readonly detail?: string;

  constructor(code: ErrorCode, problems: string | readonly string[], options?: { cause?: unknown; detail?: string }) {
    const lines = typeof problems === 'string' ? [problems] : [...problems];
    super(lines.join('\n'), options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.problems = lines;
    this.detail = options?.detail;
  }

  get exitCode(): ExitCode {
    return ERROR_TABLE[this.code].exitCode;
  }

  /** User errors print their lines only, never a stack trace. */
  get isUserError(): boolean {
    return ERROR_TABLE[this.code].userError;
  }

  get retriable(): boolean {
    return ERROR_TABLE[this.code].retriable;
  }

  /** What the completion's `error`, the termination log and the failure's log line carry. */
  get summary(): { code: ErrorCode; exit_code: ExitCode; retriable: boolean } {
    return { code: this.code, exit_code: this.exitCode, retriable: this.retriable };
  }
}

export class ConfigError extends TrainerError {
  constructor(problems: string | readonly string[], options?: { cause?: unknown }) {
    super('CONFIG_INVALID', problems, options);
  }
}
export class DataError extends TrainerError {
  constructor(problems: string | readonly string[], options?: { cause?: unknown }) {
    super('DATA_INVALID', problems, options);
  }
}
export class DataUnavailableError extends TrainerError {
  constructor(problems: string | readonly string[], options?: { cause?: unknown }) {
    super('DATA_UNAVAILABLE', problems, options);
  }
}
export class ModelUnavailableError extends TrainerError {
  constructor(problems: string | readonly string[], options?: { cause?: unknown }) {
    super('MODEL_UNAVAILABLE', problems, options);
  }
}
export class TrainingFailedError extends TrainerError {
  constructor(problems: string | readonly string[], options?: { cause?: unknown; detail?: string }) {
    super('TRAINING_FAILED', problems, options);
  }
}
export class OutOfMemoryError extends TrainerError {
  constructor(problems: string | readonly string[], options?: { cause?: unknown; detail?: string }) {
    super('OUT_OF_MEMORY', problems, options);
  }
}
export class CheckpointUploadError extends TrainerError {
  constructor(problems: string | readonly string[], options?: { cause?: unknown }) {
    super('CHECKPOINT_UPLOAD_FAILED', problems, options);
  }
}
export class InternalError extends TrainerError {
  constructor(problems: string | readonly string[], options?: { cause?: unknown; detail?: string }) {
    super('INTERNAL', problems, options);
  }
}
export class StorageUnavailableError extends TrainerError {
  constructor(problems: string | readonly string[], options?: { cause?: unknown }) {
    super('STORAGE_UNAVAILABLE', problems, options);
  }
}
export class ModelSourceUnavailableError extends TrainerError {
  constructor(problems: string | readonly string[], options?: { cause?: unknown; detail?: string }) {
    super('MODEL_SOURCE_UNAVAILABLE', problems, options);
  }
}
export class StalledError extends TrainerError {
  constructor(problems: string | readonly string[], options?: { cause?: unknown; detail?: string }) {
    super('STALLED', problems, options);
  }
}
export class CallbackUndeliveredError extends TrainerError {
  constructor(problems: string | readonly string[], options?: { cause?: unknown }) {
    super('CALLBACK_UNDELIVERED', problems, options);
  }
}
export class InterruptedError extends TrainerError {
  constructor(problems: string | readonly string[] = 'interrupted by signal') {
    super('INTERRUPTED', problems);
  }
}

/** Anything thrown that is not a TrainerError is a bug: report it as INTERNAL, keeping the cause for the log. */
export function toTrainerError(err: unknown): TrainerError {
  if (err instanceof TrainerError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new InternalError(`internal error: ${message}`, { cause: err });
}

/** The error code a completion callback carries for this error (outcome codes are never sent). */
export function callbackErrorCode(err: TrainerError): CallbackErrorCode {
  return err.code === 'CALLBACK_UNDELIVERED' || err.code === 'INTERRUPTED' ? 'INTERNAL' : err.code;
}
