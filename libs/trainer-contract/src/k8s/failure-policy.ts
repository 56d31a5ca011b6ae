import { ERROR_TABLE, ExitCode, type ErrorCode } from '../errors/index.js';

/** What a Job should do when the trainer container ends with an exit code (Kubernetes podFailurePolicy actions). */
export type PodAction = 'FailJob' | 'Count' | 'Ignore';

/**
 * The action for one error code, from the same table the trainer exits by. A user error fails the Job at once (a
 * retry reads the same bad input); an undelivered completion fails it too (training and the upload are done, a retry
 * would train again); everything else is worth a counted retry, which resumes from `last.pt`.
 */
export function actionFor(code: ErrorCode): PodAction {
  const entry = ERROR_TABLE[code];
  if (entry.userError) return 'FailJob';
  if (entry.exitCode === ExitCode.CALLBACK_UNDELIVERED) return 'FailJob';
  return 'Count';
}

/** Exit code → action over the whole table; two error codes with one exit code must agree, or this throws. */
export function exitCodeActions(): Map<number, PodAction> {
  const out = new Map<number, PodAction>();
  for (const code of Object.keys(ERROR_TABLE) as ErrorCode[]) {
    const exit = ERROR_TABLE[code].exitCode;
    const action = actionFor(code);
    const seen = out.get(exit);
    if (seen && seen !== action) throw new Error(`ERROR_TABLE: exit code ${exit} maps to both ${seen} and ${action}`);
    out.set(exit, action);
  }
  return out;
}

const codesWith = (action: PodAction) =>
  [...exitCodeActions()].filter(([, a]) => a === action).map(([c]) => c).sort((a, b) => a - b);

export interface PodFailurePolicyRule {
  action: PodAction | 'FailIndex';
  onExitCodes?: { containerName: string; operator: 'In' | 'NotIn'; values: number[] };
  onPodConditions?: { type: string; status: 'True' | 'False' | 'Unknown' }[];
}

/**
 * A single-node Job's podFailurePolicy. The first matching rule wins, so the eviction rule comes first: a pod the
 * cluster disrupted (preemption, drain) exits 143 after saving, and that must not spend the retry budget.
 * Exit codes outside the table (a segfault, 137 from the OOM killer) fall through to Kubernetes' default, Count.
 */
export function singleNodePodFailurePolicy(containerName: string): { rules: PodFailurePolicyRule[] } {
  return {
    rules: [
      { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
      { action: 'FailJob', onExitCodes: { containerName, operator: 'In', values: codesWith('FailJob') } },
      { action: 'Count', onExitCodes: { containerName, operator: 'In', values: codesWith('Count') } },
    ],
  };
}

/**
 * A multi-node group restarts as a whole (torchrun's rendezvous needs every node), so each node's Job fails on its
 * first problem (backoffLimit 0) and the JobSet decides, reading the Job's failure message: the podFailurePolicy
 * writes "... failed with exit code N matching FailJob rule at index I" or "... has condition DisruptionTarget ...".
 */
export function multiNodePodFailurePolicy(containerName: string): { rules: PodFailurePolicyRule[] } {
  return {
    rules: [
      { action: 'FailJob', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
      { action: 'FailJob', onExitCodes: { containerName, operator: 'In', values: codesWith('FailJob') } },
    ],
  };
}

export interface JobSetFailureRule {
  name: string;
  action: 'FailJobSet' | 'RestartJobSet' | 'RestartJobSetAndIgnoreMaxRestarts';
  onJobFailureReasons?: string[];
  onJobFailureMessagePatterns?: string[];
  targetReplicatedJobs?: string[];
}

/** The JobSet's half of the multi-node rules; anything unmatched restarts the group and counts (maxRestarts). */
export function jobSetFailurePolicy(maxRestarts: number): { maxRestarts: number; restartStrategy: 'Recreate'; rules: JobSetFailureRule[] } {
  const fatal = codesWith('FailJob').join('|');
  return {
    maxRestarts,
    restartStrategy: 'Recreate',
    rules: [
      {
        name: 'invalidInputOrDelivered',
        action: 'FailJobSet',
        onJobFailureReasons: ['PodFailurePolicy'],
        onJobFailureMessagePatterns: [`failed with exit code (${fatal}) matching FailJob rule`],
      },
      {
        name: 'disrupted',
        action: 'RestartJobSetAndIgnoreMaxRestarts',
        onJobFailureReasons: ['PodFailurePolicy'],
        onJobFailureMessagePatterns: ['has condition DisruptionTarget matching FailJob rule'],
      },
      { name: 'failed', action: 'RestartJobSet', onJobFailureReasons: ['BackoffLimitExceeded'] },
    ],
  };
}
