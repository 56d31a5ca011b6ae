import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { defineConfig, parseConfigObject } from '../config/index.js';
import { InterruptedError } from '../errors/index.js';
import { failureOf, frameworkPython, missingReal, REPO_ROOT, trainWith } from '../testing/index.js';
import type { TrainContext } from '../lifecycle/types.js';
import { createPythonBridgeDriver } from './index.js';
import { deviceProcessCount, torchrunPlan } from './torchrun.js';

describe('torchrunPlan: when the trainer launches torchrun', () => {
  it('one process: no torchrun', () => {
    for (const device of ['auto', 'cpu', 'mps', '0', 'cuda:1', 3]) expect(torchrunPlan({ device }, {})).toBeUndefined();
    expect(torchrunPlan({ device: 'cpu', nproc_per_node: 1 }, {})).toBeUndefined();
  });

  it('several GPUs in device, or nproc_per_node: a standalone torchrun with that many processes', () => {
    expect(deviceProcessCount('0,1,2')).toBe(3);
    expect(deviceProcessCount('cuda:0,1')).toBe(2);
    expect(torchrunPlan({ device: '0,1' }, {})).toMatchObject({ args: ['--standalone', '--nproc-per-node=2', '--max-restarts=0'], nprocPerNode: 2 });
    expect(torchrunPlan({ device: 'cpu', nproc_per_node: 4 }, {})).toMatchObject({ nprocPerNode: 4, reason: 'config.nproc_per_node=4' });
  });

  it("the cluster's torchrun env (Kubeflow, JobSet) wins, and torchrun reads it itself", () => {
    expect(torchrunPlan({ device: '0' }, { PET_NNODES: '2', PET_NPROC_PER_NODE: '8' })).toMatchObject({ args: [], nprocPerNode: 'env' });
    expect(torchrunPlan({ device: '0,1' }, { PET_NNODES: '1', PET_NPROC_PER_NODE: '1' })).toBeUndefined();
  });

  it('never nests inside a worker torchrun already started', () => {
    expect(torchrunPlan({ device: '0,1' }, { LOCAL_RANK: '0', PET_NNODES: '2' })).toBeUndefined();
  });
});

// A framework in a few lines that really is distributed: torch DDP on CPU (gloo), the stop flag agreed by all ranks
// every step (a rank that stopped alone would leave the others waiting in all_reduce).
const DDP_BRIDGE = `
import json, os, time
from pathlib import Path
import torch
import torch.distributed as dist
from trainer_bridge import BridgeInterrupted, run

def train(ctx):
    spec = ctx.spec
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    work = Path(spec["work_dir"])
    (work / f"rank{rank}.json").write_text(json.dumps({"world": world, "local_rank": os.environ["LOCAL_RANK"], "events_path": os.environ.get("TRAINER_EVENTS_PATH")}))
    torch.manual_seed(0)
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(4, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    run_dir = Path(spec["run_dir"])
    weights = run_dir / "weights"
    weights.mkdir(parents=True, exist_ok=True)
    start = 0
    if spec["resume"]:
        state = torch.load(spec["resume"])
        model.module.load_state_dict(state["model"])
        start = state["epoch"]
    epochs = spec["epochs"]
    ctx.train_start(epochs=epochs, start_epoch=start, save_dir=run_dir)
    gen = torch.Generator().manual_seed(rank)
    try:
        for epoch in range(start + 1, epochs + 1):
            for _ in range(spec["steps"]):
                stop = torch.tensor([1 if ctx.should_stop() else 0])
                dist.all_reduce(stop, op=dist.ReduceOp.MAX)
                if stop.item():
                    raise BridgeInterrupted("stopped by signal")
                x = torch.randn(8, 4, generator=gen)
                loss = ((model(x) - x.sum(1, keepdim=True)) ** 2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                time.sleep(spec["step_s"])
            mean = torch.tensor([loss.item()])
            dist.all_reduce(mean)
            if rank == 0:
                torch.save({"model": model.module.state_dict(), "epoch": epoch}, weights / "last.pt")
                ctx.checkpoint("last", weights / "last.pt", epoch)
            ctx.epoch_end(epoch, {"loss": mean.item() / world})
            dist.barrier()
    except BridgeInterrupted:
        (work / f"stopped-rank{rank}.json").write_text(json.dumps({"own_signal": ctx.should_stop()}))
        raise
    if rank == 0:
        torch.save({"model": model.module.state_dict(), "epoch": epochs}, weights / "best.pt")
    ctx.train_end(epochs, {"loss": mean.item() / world}, run_dir)
    dist.destroy_process_group()

run(train)
`;

const schema = defineConfig({});
type Config = z.output<typeof schema>;
const python = frameworkPython(join(REPO_ROOT, 'apps', 'ultralytics'));

describe('torchrun on CPU (gloo): a real 2-process DDP run through the driver', () => {
  jest.setTimeout(240_000);
  let base: string;
  let appRoot: string;
  beforeAll(() => {
    base = mkdtempSync(join(tmpdir(), 'torchrun-'));
    appRoot = join(base, 'app');
    mkdirSync(join(appRoot, 'python'), { recursive: true });
    writeFileSync(join(appRoot, 'python', 'bridge.py'), DDP_BRIDGE);
    writeFileSync(join(appRoot, 'requirements.txt'), '');
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  const train = (o: { epochs: number; stepS?: number; resumeFrom?: string; abortAfterEpoch?: number; config?: Record<string, unknown> }) => {
    const driver = createPythonBridgeDriver<Config>({
      name: 'ddp',
      version: '0.0.1',
      framework: { module: 'torch', testedRange: '>=2.0' },
      appRoot,
      configSchema: schema as never,
      tasks: ['classify'],
      resolveTask: () => 'classify',
      datasetFormat: 'imagefolder',
      canonicalMetrics: (_t, raw) => raw,
      metricNames: () => ['loss'],
      defaultPrimaryMetric: () => 'loss',
      buildSpec: (ctx) => ({ epochs: ctx.config.epochs, steps: 4, step_s: o.stepS ?? 0 }),
      env: { PATH: process.env['PATH'], TRAINER_PYTHON: python!, OMP_NUM_THREADS: '1' },
      killGraceMs: 20_000,
    });
    const workDir = mkdtempSync(join(base, 'work-'));
    const dataset = { root: base, task: 'classify', format: 'imagefolder', source: 'diceformat', classes: [], report: {} } as unknown as TrainContext['dataset'];
    const run = trainWith(driver, {
      modelName: 'linear',
      config: parseConfigObject(schema, { epochs: o.epochs, device: 'cpu', nproc_per_node: 2, ...o.config }),
      task: 'classify',
      dataset,
      workDir,
      ...(o.resumeFrom ? { resumeFrom: o.resumeFrom } : {}),
      stopWhen: (e) => e.kind === 'epoch' && e.epoch === o.abortAfterEpoch,
    });
    const rank = (r: number, prefix = 'rank') => JSON.parse(readFileSync(join(workDir, `${prefix}${r}.json`), 'utf8')) as Record<string, unknown>;
    return { ...run, workDir, rank };
  };

  it('nproc_per_node: 2 trains on two ranks and reports each epoch exactly once (from rank 0)', async () => {
    if (!python) return void missingReal('torch (the ultralytics venv)');
    const run = train({ epochs: 3 });
    const result = await run.promise;
    expect(run.epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);
    expect(run.checkpoints.map((c) => c.epoch)).toEqual([1, 2, 3]);
    expect(run.rank(0)).toMatchObject({ world: 2, local_rank: '0', events_path: join(run.workDir, 'bridge-events.jsonl') });
    expect(run.rank(1)).toMatchObject({ world: 2, local_rank: '1' });
    expect(result.bestEpoch).toBe(3);
    expect(run.lines.join('')).toContain('launching torchrun: config.nproc_per_node=2');
  });

  it('SIGTERM reaches every rank, rank 0 keeps last.pt, the run is interrupted (143) and resumes from it', async () => {
    if (!python) return void missingReal('torch (the ultralytics venv)');
    const first = train({ epochs: 4, stepS: 0.3, abortAfterEpoch: 1 });
    const err = await failureOf(first.promise);
    if (!(err instanceof InterruptedError)) process.stderr.write(first.lines.join(''));
    expect(err).toBeInstanceOf(InterruptedError);
    expect(first.epochs.map((e) => e.epoch)).toEqual([1]);
    expect(first.rank(0, 'stopped-rank')).toEqual({ own_signal: true });
    expect(first.rank(1, 'stopped-rank')).toEqual({ own_signal: true });
    const last = first.checkpoints.at(-1)!;
    expect(existsSync(last.path)).toBe(true);
    const second = train({ epochs: 3, resumeFrom: last.path });
    await second.promise;
    expect(second.epochs.map((e) => e.epoch)).toEqual([2, 3]);
  });

});
