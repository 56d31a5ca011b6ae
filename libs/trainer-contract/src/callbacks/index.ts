export { createCallbackClient, idempotencyId, parseRetryAfter, type CallbackClient, type CallbackClientOptions } from './client.js';
export {
  completionPayloadSchema,
  finiteOrNull,
  jobIdForPayload,
  progressPayloadSchema,
  type CompletionPayload,
  type ProgressPayload,
} from './payloads.js';
export { signWebhook, verifyWebhook } from './signing.js';
export { callbackJsonSchemas } from './json-schema.js';
