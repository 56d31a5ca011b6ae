/**
 * When a training job needs more than one process, the trainer starts the framework through torchrun itself
 * (`python -m torch.distributed.run`), never through a framework's own launcher: Ultralytics' launcher, for one,
 * rebuilds the trainer in a generated script and drops our callbacks. torchrun gives each worker RANK/LOCAL_RANK/
 * WORLD_SIZE; rank 0 reports through TRAINER_EVENTS_PATH (workers do not inherit fd 3).
 */
export interface TorchrunPlan {
  /** Arguments to `python -m torch.distributed.run` before the script. */
  args: string[];
  /** Processes on this node ('env': torchrun reads PET_NPROC_PER_NODE itself). */
  nprocPerNode: number | 'env';
  /** Why: for the log. */
  reason: string;
}

/** `0,1,2` → 3, `cuda:0,1` → 2; anything else (auto, cpu, mps, 0, cuda:1) is one process. */
export function deviceProcessCount(device: unknown): number {
  if (typeof device !== 'string') return 1;
  const list = device.replace(/^cuda:/, '').split(',').map((s) => s.trim()).filter(Boolean);
  return list.length > 1 && list.every((d) => /^\d+$/.test(d)) ? list.length : 1;
}

/**
 * The launch for this config and environment, or undefined for one plain process. The cluster's word wins: Kubeflow's
 * torch plugin and our JobSet set torchrun's own PET_* variables, which torchrun reads without flags. Inside a worker
 * (LOCAL_RANK set: someone already launched torchrun) nothing is nested.
 */
export function torchrunPlan(config: { device?: unknown; nproc_per_node?: unknown }, env: NodeJS.ProcessEnv): TorchrunPlan | undefined {
  if (env['LOCAL_RANK'] !== undefined) return undefined;
  const nnodes = Number(env['PET_NNODES'] ?? '1');
  const envProcs = env['PET_NPROC_PER_NODE'];
  if (env['PET_NNODES'] !== undefined || envProcs !== undefined) {
    if (!(nnodes > 1) && (envProcs === undefined || envProcs === '1')) return undefined;
    return { args: [], nprocPerNode: 'env', reason: `torchrun environment (PET_NNODES=${env['PET_NNODES'] ?? '-'}, PET_NPROC_PER_NODE=${envProcs ?? '-'})` };
  }
  const fromConfig = typeof config.nproc_per_node === 'number' ? config.nproc_per_node : undefined;
  const n = fromConfig ?? deviceProcessCount(config.device);
  if (n <= 1) return undefined;
  return {
    // --standalone: a local rendezvous on a free port, so two jobs on one machine do not collide.
    args: ['--standalone', `--nproc-per-node=${n}`, '--max-restarts=0'],
    nprocPerNode: n,
    reason: fromConfig !== undefined ? `config.nproc_per_node=${n}` : `config.device lists ${n} GPUs`,
  };
}
