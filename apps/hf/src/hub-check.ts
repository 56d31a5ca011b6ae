import { execFile } from 'node:child_process';
import { ConfigError, ModelUnavailableError, TrainingFailedError, type Task } from '@trainers/trainer-contract';
import type { SupportedTask } from './metrics.js';

/** What python/hub_check.py says about a model: its config.json's type, architecture and the task it implies. */
export interface ModelInfo {
  path: string;
  model_type: string | null;
  architecture: string | null;
  task: SupportedTask | null;
  supports: Record<SupportedTask, boolean>;
}

type CheckOutput = ({ status: 'ok' } & ModelInfo) | { status: 'invalid' | 'unknown' | 'unreachable'; message: string };

/**
 * Runs the helper in the trainer's interpreter and environment (HF_HOME in WORK_DIR, HF_TOKEN passed on). A model
 * the user must fix is MODEL_UNAVAILABLE (exit 3); a hub that cannot be reached is a retriable failure (exit 1).
 */
export async function inspectModel(python: string, script: string, model: string, env: NodeJS.ProcessEnv, cwd: string): Promise<ModelInfo> {
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
    execFile(python, [script, model], { env, cwd, timeout: 300_000, maxBuffer: 4 * 1024 * 1024, encoding: 'utf8' }, (err, out, errOut) => {
      const exit = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? ((err as unknown as { code: number }).code) : null) : 0;
      done({ code: exit, stdout: String(out ?? ''), stderr: String(errOut ?? err?.message ?? '') });
    });
  });
  const line = stdout.trim().split('\n').pop() ?? '';
  let result: CheckOutput | undefined;
  try {
    result = line.startsWith('{') ? (JSON.parse(line) as CheckOutput) : undefined;
  } catch {
    result = undefined;
  }
  if (!result) {
    const last = stderr.trim().split('\n').filter(Boolean).pop() ?? `exit ${code}`;
    throw new ModelUnavailableError(`model_name: ${model} cannot be checked: ${last}`);
  }
  if (result.status === 'ok') return result;
  if (result.status === 'unreachable') throw new TrainingFailedError(`model_name: ${result.message}`);
  throw new ModelUnavailableError(`model_name: ${result.message}`);
}

/** The task to train: config.task when the model can do it, else the one the model's architecture names. */
export function taskFor(info: ModelInfo, configTask: Task | undefined, modelName: string): SupportedTask {
  const what = [info.model_type, info.architecture].filter(Boolean).join(', ') || 'no model_type';
  if (configTask) {
    const task = configTask as SupportedTask;
    if (info.supports[task] === false) {
      const can = (Object.keys(info.supports) as SupportedTask[]).filter((t) => info.supports[t]);
      throw new ConfigError(`config.task: "${task}" does not fit ${modelName} (${what}); ${can.length ? `it trains for ${can.join(', ')}` : 'it has no image-classification or object-detection head'}`);
    }
    return task;
  }
  if (info.task) return info.task;
  throw new ConfigError(`config.task: not set, and ${modelName} (${what}) does not imply one; set "classify" or "detect"`);
}
