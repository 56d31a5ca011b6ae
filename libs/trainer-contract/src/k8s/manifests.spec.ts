import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { ConfigError, ERROR_TABLE, ExitCode, type ErrorCode } from '../errors/index.js';
import { commonConfigShape } from '../config/index.js';
import { crdProblems, crdSchema, manifestProblems, subSchema, unknownFields } from '../testing/k8s-schemas.js';
import { k8sManifestCommand } from './cli.js';
import { jobSetFailurePolicy, multiNodePodFailurePolicy, singleNodePodFailurePolicy, type PodFailurePolicyRule } from './failure-policy.js';
import { objectName } from './manifests.js';

const configSchema = z.object(commonConfigShape).strict();
const base = ['--image', 'registry.example.com/trainer-demo:0.1.0', '--job-id', '123', '--model-name', 'yolov8n', '--dataset-s3-uri', 's3://b/ds/', '--callback-url', 'http://backend:8000/api/v1/training', '--config', '{"epochs": 5}'];

async function manifests(extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<Record<string, unknown>[]> {
  const { output } = await k8sManifestCommand([...base, ...extra], { app: 'demo', version: '0.1.0', configSchema, env });
  return parseAllDocuments(output).map((d) => d.toJS() as Record<string, unknown>);
}

type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Kubernetes' own reading of a podFailurePolicy: the first rule that matches the ended pod decides. */
function decide(rules: PodFailurePolicyRule[], pod: { exitCode: number; disrupted?: boolean }, container = 'trainer'): string {
  for (const r of rules) {
    if (r.onPodConditions && pod.disrupted && r.onPodConditions.some((c) => c.type === 'DisruptionTarget' && c.status === 'True')) return r.action;
    const e = r.onExitCodes;
    if (e && e.containerName === container && pod.exitCode !== 0) {
      const hit = e.values.includes(pod.exitCode);
      if ((e.operator === 'In' && hit) || (e.operator === 'NotIn' && !hit)) return r.action;
    }
  }
  return 'Count (default)';
}

describe('podFailurePolicy from the exit-code table', () => {
  const rules = singleNodePodFailurePolicy('trainer').rules;
  const want: Record<number, string> = { [ExitCode.FAILED]: 'Count', [ExitCode.CALLBACK_UNDELIVERED]: 'FailJob', [ExitCode.INVALID_INPUT]: 'FailJob', [ExitCode.INTERRUPTED]: 'Count' };

  it.each(Object.keys(ERROR_TABLE) as ErrorCode[])('%s: the Job does what its exit code asks', (code) => {
    const exitCode = ERROR_TABLE[code].exitCode;
    expect(want[exitCode]).toBeDefined();
    expect(decide(rules, { exitCode })).toBe(want[exitCode]);
    // A disrupted pod (preemption, drain) is never counted, whatever it exited with.
    expect(decide(rules, { exitCode, disrupted: true })).toBe('Ignore');
  });

  it('covers every exit code of the contract and nothing else', () => {
    const codes = rules.flatMap((r) => r.onExitCodes?.values ?? []).sort((a, b) => a - b);
    const fromTable = [...new Set(Object.values(ERROR_TABLE).map((e) => e.exitCode))].sort((a, b) => a - b);
    expect(codes).toEqual(fromTable);
    expect(codes).not.toContain(0);
    expect(rules[0]).toEqual({ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] });
  });

  it('multi-node: the JobSet reads the Job failure the node policy wrote', () => {
    const node = multiNodePodFailurePolicy('node').rules;
    const fp = jobSetFailurePolicy(3);
    // The messages the Job controller writes for a FailJob rule (pkg/controller/job, podFailurePolicy).
    const failure = (pod: { exitCode: number; disrupted?: boolean }) => {
      const i = node.findIndex((r) => decide([r], pod, 'node') === 'FailJob');
      if (i < 0) return { reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' };
      const message = pod.disrupted
        ? `Pod ns/p-0 has condition DisruptionTarget matching FailJob rule at index ${i}`
        : `Container node for pod ns/p-0 failed with exit code ${pod.exitCode} matching FailJob rule at index ${i}`;
      return { reason: 'PodFailurePolicy', message };
    };
    const jobSetAction = (pod: { exitCode: number; disrupted?: boolean }) => {
      const f = failure(pod);
      const rule = fp.rules.find((r) => (r.onJobFailureReasons ?? [f.reason]).includes(f.reason) && (r.onJobFailureMessagePatterns ?? ['']).some((p) => new RegExp(p).test(f.message)));
      return rule?.action ?? 'RestartJobSet (default)';
    };
    for (const code of Object.keys(ERROR_TABLE) as ErrorCode[]) {
      const exitCode = ERROR_TABLE[code].exitCode;
      expect([code, jobSetAction({ exitCode })]).toEqual([code, want[exitCode] === 'FailJob' ? 'FailJobSet' : 'RestartJobSet']);
      expect([code, jobSetAction({ exitCode, disrupted: true })]).toEqual([code, 'RestartJobSetAndIgnoreMaxRestarts']);
    }
  });
});

describe('k8s-manifest', () => {
  it('one node: a batch/v1 Job that kubernetes-models and the JobTemplateSpec schema accept', async () => {
    const docs = await manifests(['--gpus', '2', '--s3-bucket', 'ckpt', '--queue', 'team-a']);
    expect(docs.map((d) => d['kind'])).toEqual(['Job']);
    const job = docs[0] as Any;
    expect(await manifestProblems(job)).toEqual([]);
    const template = subSchema(crdSchema('jobset.x-k8s.io/v1alpha2', 'JobSet')!, 'spec.replicatedJobs[].template');
    expect(unknownFields({ metadata: job['metadata'], spec: job['spec'] }, template, '')).toEqual([]);

    expect(job.spec.podReplacementPolicy).toBe('Failed');
    expect(job.spec.backoffLimit).toBe(3);
    expect(job.spec.activeDeadlineSeconds).toBeGreaterThan(0);
    expect(job.spec.podFailurePolicy).toEqual(singleNodePodFailurePolicy('trainer'));
    const pod = job.spec.template.spec;
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(120);
    const c = pod.containers[0];
    expect(c.terminationMessagePath).toBe('/dev/termination-log');
    expect(c.resources.limits['nvidia.com/gpu']).toBe(2);
    expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(c.args).toEqual(['--job-id', '123', '--model-name', 'yolov8n', '--dataset-s3-uri', 's3://b/ds/', '--callback-url', 'http://backend:8000/api/v1/training', '--config', '{"epochs":5,"device":"0,1"}']);
    const secretKeys = c.env.filter((e: Any) => e.valueFrom?.secretKeyRef).map((e: Any) => e.valueFrom.secretKeyRef);
    expect(secretKeys.map((s: Any) => s.key)).toEqual(expect.arrayContaining(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'MLFLOW_TRACKING_TOKEN', 'CALLBACK_SECRET', 'CALLBACK_TOKEN']));
    expect(new Set(secretKeys.map((s: Any) => s.name))).toEqual(new Set(['trainer-credentials']));
    expect(c.env).toContainEqual({ name: 'S3_BUCKET', value: 'ckpt' });
    expect(job.metadata.labels['kueue.x-k8s.io/queue-name']).toBe('team-a');
  });

  it('several nodes: a TrainJob and the ClusterTrainingRuntime it names, both valid against their CRDs', async () => {
    const docs = await manifests(['--nodes', '4', '--gpus', '8']);
    expect(docs.map((d) => d['kind'])).toEqual(['ClusterTrainingRuntime', 'TrainJob']);
    for (const d of docs) expect([d['kind'], crdProblems(d)]).toEqual([d['kind'], []]);
    const [runtime, trainJob] = docs as Any[];
    expect(trainJob.spec.runtimeRef).toEqual({ name: runtime.metadata.name, apiGroup: 'trainer.kubeflow.org', kind: 'ClusterTrainingRuntime' });
    expect(trainJob.spec.trainer).toMatchObject({ numNodes: 4, numProcPerNode: 8, resourcesPerNode: { limits: { 'nvidia.com/gpu': 8 } } });
    const rj = runtime.spec.template.spec.replicatedJobs[0];
    expect(rj.name).toBe('node');
    expect(rj.template.spec.template.spec.containers[0].name).toBe('node');
    expect(rj.template.spec.podFailurePolicy).toEqual(multiNodePodFailurePolicy('node'));
    expect(runtime.spec.template.spec.failurePolicy).toEqual(jobSetFailurePolicy(3));
    expect(runtime.spec.mlPolicy).toEqual({ numNodes: 1, torch: {} });
  });

  it('--engine jobset: one JobSet with torchrun env, valid against its CRD', async () => {
    const docs = await manifests(['--nodes', '2', '--engine', 'jobset', '--job-id', 'a-very-long-job-id-that-goes-on-and-on-and-on-1234567890']);
    expect(docs.map((d) => d['kind'])).toEqual(['JobSet']);
    const js = docs[0] as Any;
    expect(crdProblems(js)).toEqual([]);
    const job = js.spec.replicatedJobs[0].template.spec;
    expect(job).toMatchObject({ parallelism: 2, completions: 2, completionMode: 'Indexed', backoffLimit: 0 });
    const env = Object.fromEntries(job.template.spec.containers[0].env.filter((e: Any) => e.name.startsWith('PET_')).map((e: Any) => [e.name, e.value ?? e.valueFrom]));
    expect(env['PET_NNODES']).toBe('2');
    expect(env['PET_MASTER_ADDR']).toBe(`${js.metadata.name}-node-0-0.${js.metadata.name}`);
    expect(js.metadata.name.length).toBeLessThanOrEqual(40);
    expect(js.metadata.annotations['trainers/job-id']).toBe('a-very-long-job-id-that-goes-on-and-on-and-on-1234567890');
  });

  it('the validators catch a broken manifest (so a green test means something)', async () => {
    const job = (await manifests())[0] as Any;
    job.spec.backoffLimit = 'three';
    expect((await manifestProblems(job)).join()).toMatch(/backoffLimit/);
    const [runtime] = (await manifests(['--nodes', '2'])) as Any[];
    runtime.spec.template.spec.failurePolicy.rules[0].action = 'Explode';
    runtime.spec.mlPolicy.torhc = {};
    const problems = crdProblems(runtime).join('\n');
    expect(problems).toMatch(/action/);
    expect(problems).toMatch(/torhc: not in the schema/);
  });

  it('bad flags and a bad config are one line each, as ConfigError (exit 3)', async () => {
    const err = await k8sManifestCommand(['--image', 'x:1', '--nodes', '0', '--engine', 'slurm', '--config', '{"epoch": 3}'], { app: 'demo', version: '0', configSchema, env: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const lines = (err as ConfigError).problems;
    expect(lines).toEqual(expect.arrayContaining([
      '--job-id: required (or set JOB_ID)',
      '--model-name: required (or set MODEL_NAME)',
      '--engine: expected trainjob or jobset, got "slurm"',
      '--nodes: expected an integer >= 1, got "0"',
    ]));
    expect(lines.some((l) => /config\.epoch: unknown key/.test(l))).toBe(true);
    expect((err as ConfigError).exitCode).toBe(3);
    await expect(k8sManifestCommand([...base, '--gpu', '2'], { app: 'demo', version: '0', configSchema, env: {} })).rejects.toThrow(/did you mean --gpus/);
  });

  it('reads the config from @file and the seed env vars as fallbacks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'k8s-'));
    writeFileSync(join(dir, 'c.json'), '{"epochs": 2}');
    const { output } = await k8sManifestCommand(['--image', 'x:1', '--config', `@${join(dir, 'c.json')}`, '--gpus', '0'], {
      app: 'demo', version: '0', configSchema, env: { JOB_ID: '7', MODEL_NAME: 'm', DATASET_S3_URI: 's3://b/d/' },
    });
    const job = parseAllDocuments(output)[0]!.toJS() as Any;
    expect(job.spec.template.spec.containers[0].args).toEqual(['--job-id', '7', '--model-name', 'm', '--dataset-s3-uri', 's3://b/d/', '--config', '{"epochs":2}']);
    expect(job.spec.template.spec.containers[0].resources).toEqual({});
  });

  it('object names are DNS-1123 and distinct for long ids', () => {
    const a = objectName('hf', 'X'.repeat(100) + 'a');
    const b = objectName('hf', 'X'.repeat(100) + 'b');
    expect(a).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(a.length).toBeLessThanOrEqual(40);
    expect(a).not.toBe(b);
  });
});
