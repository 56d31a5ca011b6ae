import { z } from 'zod';
import { completionPayloadSchema, progressPayloadSchema } from './payloads.js';

/** JSON Schemas of both callback payloads, as a backend receives them. */
export function callbackJsonSchemas(): { progress: Record<string, unknown>; completion: Record<string, unknown> } {
  return {
    progress: { title: 'progress callback', ...(z.toJSONSchema(progressPayloadSchema, { io: 'output', unrepresentable: 'any' }) as Record<string, unknown>) },
    completion: { title: 'completion callback', ...(z.toJSONSchema(completionPayloadSchema, { io: 'output', unrepresentable: 'any' }) as Record<string, unknown>) },
  };
}
