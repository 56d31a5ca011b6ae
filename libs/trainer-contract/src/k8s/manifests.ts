import { createHash } from 'node:crypto';
import { jobSetFailurePolicy, multiNodePodFailurePolicy, singleNodePodFailurePolicy } from './failure-policy.js';

/** Everything a manifest is made from; `k8s-manifest`'s flags after parsing and checking. */
export interface ManifestOptions {
  /** The app's name: `ultralytics` makes `trainer-ultralytics`. */
  app: string;
  version: string;
  image: string;
  jobId: string;
  modelName: string;
  datasetUri: string;
  callbackUrl?: string;
  /** The config as the user wrote it (already validated); the trainer applies the defaults itself. */
  config: Record<string, unknown>;
  gpus: number;
  nodes: number;
  engine: 'trainjob' | 'jobset';
  namespace?: string;
  /** The Secret the credentials come from (each key optional). */
  secretName: string;
  /** Kueue's LocalQueue, when the cluster admits jobs through Kueue. */
  queue?: string;
  s3Bucket?: string;
  s3Endpoint?: string;
  mlflowTrackingUri?: string;
  backoffLimit: number;
  activeDeadlineSeconds: number;
  terminationGracePeriodSeconds: number;
  maxRestarts: number;
  cpu?: string;
  memory?: string;
  workDirSize?: string;
}

type Obj = Record<string, unknown>;

export const TRAINER_CONTAINER = 'trainer';
/** Kubeflow's torch plugin injects torchrun's env into the container of this name, in the replicated job of this name. */
const KUBEFLOW_NODE = 'node';
export const TERMINATION_MESSAGE_PATH = '/dev/termination-log';
const WORK_DIR = '/work';
const TORCHRUN_PORT = 29500;

/** The credentials a trainer reads, each taken from the Secret when the key is there (CONTRACT §3). */
export const SECRET_KEYS = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'MLFLOW_TRACKING_TOKEN',
  'MLFLOW_TRACKING_USERNAME',
  'MLFLOW_TRACKING_PASSWORD',
  'CALLBACK_TOKEN',
  'CALLBACK_SECRET',
] as const;

/**
 * A DNS-1123 name for the job's objects. JobSet pod host names add `-node-0-0` and must stay within 63 characters,
 * so names are cut at 40, with a hash of the whole id so that two long ids do not collide.
 */
export function objectName(app: string, jobId: string, max = 40): string {
  const clean = `${app}-${jobId}`.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '');
  if (clean.length <= max) return clean;
  const hash = createHash('sha256').update(jobId).digest('hex').slice(0, 8);
  return `${clean.slice(0, max - 9).replace(/-$/, '')}-${hash}`;
}

function labels(o: ManifestOptions): Obj {
  return {
    'app.kubernetes.io/name': `trainer-${o.app}`,
    'app.kubernetes.io/version': o.version,
    'app.kubernetes.io/component': 'trainer',
    'app.kubernetes.io/managed-by': `trainer-${o.app}-k8s-manifest`,
    ...(o.queue ? { 'kueue.x-k8s.io/queue-name': o.queue } : {}),
  };
}

function metadata(o: ManifestOptions, name: string): Obj {
  return {
    name,
    ...(o.namespace ? { namespace: o.namespace } : {}),
    labels: labels(o),
    // Job ids may be longer than a label value allows; an annotation holds any id.
    annotations: { 'trainers/job-id': o.jobId },
  };
}

/** Multi-GPU needs the device list in the config (the trainer launches one process per listed GPU). */
function effectiveConfig(o: ManifestOptions): Obj {
  if (o.gpus > 1 && o.config['device'] === undefined) {
    return { ...o.config, device: Array.from({ length: o.gpus }, (_, i) => String(i)).join(',') };
  }
  return o.config;
}

function trainerArgs(o: ManifestOptions): string[] {
  return [
    '--job-id', o.jobId,
    '--model-name', o.modelName,
    '--dataset-s3-uri', o.datasetUri,
    ...(o.callbackUrl ? ['--callback-url', o.callbackUrl] : []),
    '--config', JSON.stringify(effectiveConfig(o)),
  ];
}

/** What every pod of this app needs: where to write, and the credentials from the Secret. */
function podEnv(o: ManifestOptions): Obj[] {
  return [
    { name: 'WORK_DIR', value: WORK_DIR },
    { name: 'TERMINATION_LOG', value: TERMINATION_MESSAGE_PATH },
    ...SECRET_KEYS.map((key) => ({ name: key, valueFrom: { secretKeyRef: { name: o.secretName, key, optional: true } } })),
  ];
}

/** What this job adds: where its checkpoints and run go. */
function jobEnv(o: ManifestOptions): Obj[] {
  const plain: [string, string | undefined][] = [
    ['S3_BUCKET', o.s3Bucket],
    ['S3_ENDPOINT', o.s3Endpoint],
    ['MLFLOW_TRACKING_URI', o.mlflowTrackingUri],
  ];
  return plain.filter(([, v]) => v !== undefined).map(([name, value]) => ({ name, value }));
}

function trainerEnv(o: ManifestOptions): Obj[] {
  return [...podEnv(o), ...jobEnv(o)];
}

function resources(o: ManifestOptions): Obj {
  const requests: Obj = { ...(o.cpu ? { cpu: o.cpu } : {}), ...(o.memory ? { memory: o.memory } : {}) };
  const limits: Obj = { ...(o.memory ? { memory: o.memory } : {}), ...(o.gpus > 0 ? { 'nvidia.com/gpu': o.gpus } : {}) };
  return { ...(Object.keys(requests).length ? { requests } : {}), ...(Object.keys(limits).length ? { limits } : {}) };
}

/**
 * The trainer's pod: read-only root filesystem with writable /work, /tmp and a memory-backed /dev/shm (torch's
 * DataLoader workers pass batches through it), non-root, and the exit reason where Kubernetes reads it.
 */
function podSpec(o: ManifestOptions, container: Obj, restartPolicy: 'Never'): Obj {
  return {
    restartPolicy,
    terminationGracePeriodSeconds: o.terminationGracePeriodSeconds,
    securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [
      {
        ...container,
        terminationMessagePath: TERMINATION_MESSAGE_PATH,
        // The trainer writes one JSON line there; a container killed before it could gets its log tail instead.
        terminationMessagePolicy: 'FallbackToLogsOnError',
        securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        volumeMounts: [
          { name: 'work', mountPath: WORK_DIR },
          { name: 'tmp', mountPath: '/tmp' },
          { name: 'dshm', mountPath: '/dev/shm' },
        ],
      },
    ],
    volumes: [
      { name: 'work', emptyDir: o.workDirSize ? { sizeLimit: o.workDirSize } : {} },
      { name: 'tmp', emptyDir: {} },
      { name: 'dshm', emptyDir: { medium: 'Memory' } },
    ],
  };
}

/** One node: a batch/v1 Job whose failure rules come from the exit-code table. */
export function jobManifest(o: ManifestOptions): Obj {
  const name = objectName(o.app, o.jobId, 63);
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: metadata(o, name),
    spec: {
      backoffLimit: o.backoffLimit,
      activeDeadlineSeconds: o.activeDeadlineSeconds,
      podReplacementPolicy: 'Failed',
      podFailurePolicy: singleNodePodFailurePolicy(TRAINER_CONTAINER),
      template: {
        metadata: { labels: labels(o) },
        spec: podSpec(o, { name: TRAINER_CONTAINER, image: o.image, args: trainerArgs(o), env: trainerEnv(o), resources: resources(o) }, 'Never'),
      },
    },
  };
}

/** The per-node Job inside a JobSet (ours, or the one a ClusterTrainingRuntime describes). */
function nodeJobSpec(o: ManifestOptions, container: Obj, indexed: boolean): Obj {
  return {
    ...(indexed ? { parallelism: o.nodes, completions: o.nodes, completionMode: 'Indexed' } : {}),
    backoffLimit: 0,
    activeDeadlineSeconds: o.activeDeadlineSeconds,
    podReplacementPolicy: 'Failed',
    podFailurePolicy: multiNodePodFailurePolicy(container['name'] as string),
    template: { metadata: { labels: labels(o) }, spec: podSpec(o, container, 'Never') },
  };
}

function runtimeName(app: string): string {
  return `trainer-${app}`;
}

/**
 * The ClusterTrainingRuntime a TrainJob refers to: Kubeflow's torch runtime with our failure rules. Kubeflow's torch
 * plugin sets torchrun's PET_* variables in the `node` container; the trainer's ENTRYPOINT reads them and launches
 * torchrun itself (no `command` here), so progress, checkpoints and the exit code stay ours.
 */
export function clusterTrainingRuntimeManifest(job: ManifestOptions): Obj {
  // Shared by every TrainJob of the app: nothing job-specific (the Kueue queue is the TrainJob's label).
  const o = { ...job, queue: undefined };
  // Which TrainJob this pod belongs to, for the status server's URL (src/kubeflow).
  const identity = [
    { name: 'KUBEFLOW_TRAINJOB_NAME', valueFrom: { fieldRef: { fieldPath: "metadata.labels['jobset.sigs.k8s.io/jobset-name']" } } },
    { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
  ];
  const container = { name: KUBEFLOW_NODE, image: o.image, env: [...podEnv(o), ...identity] };
  return {
    apiVersion: 'trainer.kubeflow.org/v1alpha1',
    kind: 'ClusterTrainingRuntime',
    metadata: { name: runtimeName(o.app), labels: { 'trainer.kubeflow.org/framework': 'torch', 'app.kubernetes.io/name': `trainer-${o.app}` } },
    spec: {
      mlPolicy: { numNodes: 1, torch: {} },
      template: {
        spec: {
          failurePolicy: jobSetFailurePolicy(o.maxRestarts),
          replicatedJobs: [
            {
              name: KUBEFLOW_NODE,
              template: {
                metadata: { labels: { 'trainer.kubeflow.org/trainjob-ancestor-step': 'trainer' } },
                spec: nodeJobSpec(o, container, false),
              },
            },
          ],
        },
      },
    },
  };
}

export function trainJobManifest(o: ManifestOptions): Obj {
  const name = objectName(o.app, o.jobId);
  return {
    apiVersion: 'trainer.kubeflow.org/v1alpha1',
    kind: 'TrainJob',
    metadata: metadata(o, name),
    spec: {
      runtimeRef: { name: runtimeName(o.app), apiGroup: 'trainer.kubeflow.org', kind: 'ClusterTrainingRuntime' },
      activeDeadlineSeconds: o.activeDeadlineSeconds,
      trainer: {
        image: o.image,
        args: trainerArgs(o),
        env: jobEnv(o),
        numNodes: o.nodes,
        numProcPerNode: Math.max(1, o.gpus),
        resourcesPerNode: resources(o),
      },
    },
  };
}

/**
 * The same group without Kubeflow: one Indexed Job of N pods behind a headless service, torchrun's rendezvous on
 * pod 0, each pod's node rank from its completion index.
 */
export function jobSetManifest(o: ManifestOptions): Obj {
  const name = objectName(o.app, o.jobId);
  const torchrunEnv = [
    { name: 'PET_NNODES', value: String(o.nodes) },
    { name: 'PET_NPROC_PER_NODE', value: String(Math.max(1, o.gpus)) },
    { name: 'PET_NODE_RANK', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } },
    { name: 'PET_MASTER_ADDR', value: `${name}-${KUBEFLOW_NODE}-0-0.${name}` },
    { name: 'PET_MASTER_PORT', value: String(TORCHRUN_PORT) },
  ];
  const container = {
    name: TRAINER_CONTAINER,
    image: o.image,
    args: trainerArgs(o),
    env: [...torchrunEnv, ...trainerEnv(o)],
    ports: [{ name: 'torchrun', containerPort: TORCHRUN_PORT }],
    resources: resources(o),
  };
  return {
    apiVersion: 'jobset.x-k8s.io/v1alpha2',
    kind: 'JobSet',
    metadata: metadata(o, name),
    spec: {
      network: { enableDNSHostnames: true, subdomain: name },
      successPolicy: { operator: 'All', targetReplicatedJobs: [KUBEFLOW_NODE] },
      failurePolicy: jobSetFailurePolicy(o.maxRestarts),
      replicatedJobs: [{ name: KUBEFLOW_NODE, replicas: 1, template: { spec: nodeJobSpec(o, container, true) } }],
    },
  };
}

/** What `k8s-manifest` prints for these options, in apply order. */
export function manifestsFor(o: ManifestOptions): Obj[] {
  if (o.nodes <= 1) return [jobManifest(o)];
  if (o.engine === 'jobset') return [jobSetManifest(o)];
  return [clusterTrainingRuntimeManifest(o), trainJobManifest(o)];
}
