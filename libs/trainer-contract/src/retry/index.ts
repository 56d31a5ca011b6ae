export { backoffDelay, retry, type RetryPolicy } from './retry.js';
