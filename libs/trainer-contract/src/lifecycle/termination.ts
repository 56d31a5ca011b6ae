import { accessSync, appendFileSync, constants } from 'node:fs';
import { redact } from '../log/index.js';

const K8S_DEFAULT = '/dev/termination-log';

/** Writes `{code, message, exit_code, retriable}` as one JSON line where Kubernetes reads the reason a container ended. */
export function writeTerminationLog(env: NodeJS.ProcessEnv, record: { code: string; message: string; exit_code: number; retriable: boolean }): void {
  const path = env['TERMINATION_LOG'] || K8S_DEFAULT;
  try {
    if (!env['TERMINATION_LOG']) accessSync(path, constants.W_OK);
    appendFileSync(path, redact(JSON.stringify(record)) + '\n');
  } catch {
    // Not writable (a local run, say): the reason is in the log and on stderr already.
  }
}
