export { createCallbackClient, idempotencyId, parseRetryAfter, type CallbackClient, type CallbackClientOptions, type SentEvent } from './client.js';
export {
  completionPayloadSchema,
  finiteOrNull,
  jobIdForPayload,
  progressPayloadSchema,
  PROGRESS_PHASES,
  type ProgressPhase,
  type CompletionPayload,
  type ProgressPayload,
} from './payloads.js';
export { signWebhook, verifyWebhook } from './signing.js';
export { callbackJsonSchemas } from './json-schema.js';
