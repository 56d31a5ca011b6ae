import { delimiter, join, resolve } from 'node:path';
import { SECRET_ENV_VARS } from '../log/index.js';

// The framework needs none of the trainer's credentials, and without them no framework integration (MLflow, W&B,
// Comet, Ultralytics HUB, ...) can wake up and log elsewhere, nor can a secret reach a framework's own log lines.
const DROP = /^(AWS_|MLFLOW_|CALLBACK_|S3_|WANDB_|COMET_|NEPTUNE_|CLEARML_|DVC_|HUB_|ULTRALYTICS_API)/;

/**
 * The bridge child's whole environment: the trainer's, less secrets, with the runtime first on an absolute
 * PYTHONPATH (the child runs in the work dir, where a relative entry would stop resolving) and the framework
 * caches inside WORK_DIR (a pod's HOME may be read-only, and WORK_DIR goes away with the job) unless set.
 */
export function bridgeChildEnv(env: NodeJS.ProcessEnv, workDir: string, runtimeDir: string): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  const secrets = new Set<string>(SECRET_ENV_VARS);
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || secrets.has(k) || DROP.test(k)) continue;
    out[k] = v;
  }
  const paths = (out['PYTHONPATH'] ?? '').split(delimiter).filter(Boolean).map((p) => resolve(p));
  out['PYTHONPATH'] = [runtimeDir, ...paths.filter((p) => p !== runtimeDir)].join(delimiter);
  const cache = join(workDir, 'cache');
  out['XDG_CACHE_HOME'] ??= cache;
  out['HF_HOME'] ??= join(cache, 'huggingface');
  out['TORCH_HOME'] ??= join(cache, 'torch');
  out['MPLCONFIGDIR'] ??= join(cache, 'matplotlib');
  // torch.compile writes its kernels here (default /tmp/torchinductor_<user>, outside the job's space).
  out['TORCHINDUCTOR_CACHE_DIR'] ??= join(cache, 'torchinductor');
  out['TRITON_CACHE_DIR'] ??= join(cache, 'triton');
  // Their settings were dropped above; these also keep an SDK a framework imports anyway from trying to log in.
  out['WANDB_MODE'] = 'disabled';
  out['COMET_MODE'] = 'disabled';
  return out;
}
