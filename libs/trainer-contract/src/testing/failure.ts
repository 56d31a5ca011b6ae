import { TrainerError } from '../errors/index.js';

/** Awaits a promise that must reject with a TrainerError, and returns that error for assertions. */
export async function failureOf(p: Promise<unknown>): Promise<TrainerError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof TrainerError) return e;
    throw e;
  }
  throw new Error('expected a failure');
}
