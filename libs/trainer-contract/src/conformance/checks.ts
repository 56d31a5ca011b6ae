import { BAD_INPUT_CHECKS } from './bad-input.js';
import { CALLBACK_CHECKS } from './callback-checks.js';
import type { CheckDef } from './check-kit.js';
import { DESCRIBE_CHECKS } from './describe-checks.js';
import { INVOCATION_CHECKS } from './invocation-checks.js';
import { OUTCOME_CHECKS } from './outcome-checks.js';
import { TRACKING_CHECKS } from './tracking-checks.js';

/** Every check, in the order of the contract's sections as a reader meets them. */
export const CHECKS: CheckDef[] = [...INVOCATION_CHECKS, ...DESCRIBE_CHECKS, ...BAD_INPUT_CHECKS, ...CALLBACK_CHECKS, ...OUTCOME_CHECKS, ...TRACKING_CHECKS];
