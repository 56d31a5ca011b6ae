import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors/index.js';
import { closest, parseConfigObject } from '../config/index.js';
import { manifestsFor, type ManifestOptions } from './manifests.js';

export const K8S_MANIFEST_COMMAND = 'k8s-manifest';

interface Flag {
  type: 'string' | 'boolean';
  env?: string;
  describe: string;
  default?: string;
}

const FLAGS: Record<string, Flag> = {
  image: { type: 'string', describe: 'the trainer image, by tag or digest (required)' },
  'job-id': { type: 'string', env: 'JOB_ID', describe: 'training job id (required)' },
  'model-name': { type: 'string', env: 'MODEL_NAME', describe: 'model to train (required)' },
  'dataset-s3-uri': { type: 'string', env: 'DATASET_S3_URI', describe: 'dataset URI (required)' },
  'callback-url': { type: 'string', env: 'CALLBACK_URL', describe: 'backend base URL for callbacks' },
  config: { type: 'string', env: 'CONFIG', describe: 'training config: inline JSON or @file; validated here' },
  gpus: { type: 'string', describe: 'GPUs per node (0 = CPU)', default: '1' },
  nodes: { type: 'string', describe: 'nodes; more than 1 makes a TrainJob (or a JobSet)', default: '1' },
  engine: { type: 'string', describe: 'multi-node engine: trainjob (Kubeflow Trainer) or jobset', default: 'trainjob' },
  namespace: { type: 'string', describe: 'metadata.namespace (default: the one kubectl applies to)' },
  secret: { type: 'string', describe: 'Secret holding AWS_*, MLFLOW_TRACKING_*, CALLBACK_TOKEN/SECRET (each optional)', default: 'trainer-credentials' },
  queue: { type: 'string', describe: 'Kueue LocalQueue (label kueue.x-k8s.io/queue-name)' },
  's3-bucket': { type: 'string', env: 'S3_BUCKET', describe: 'checkpoint bucket (S3_BUCKET in the pod)' },
  's3-endpoint': { type: 'string', env: 'S3_ENDPOINT', describe: 'custom S3 endpoint (S3_ENDPOINT in the pod)' },
  'mlflow-tracking-uri': { type: 'string', env: 'MLFLOW_TRACKING_URI', describe: 'MLflow server (MLFLOW_TRACKING_URI in the pod)' },
  'backoff-limit': { type: 'string', describe: 'counted retries of a single-node Job', default: '3' },
  'max-restarts': { type: 'string', describe: 'counted restarts of a multi-node group', default: '3' },
  'deadline-seconds': { type: 'string', describe: 'activeDeadlineSeconds', default: '172800' },
  'grace-seconds': { type: 'string', describe: 'terminationGracePeriodSeconds: time to stop, save and upload last.pt', default: '300' },
  cpu: { type: 'string', describe: 'CPU request per node, e.g. 8' },
  memory: { type: 'string', describe: 'memory request and limit per node, e.g. 32Gi' },
  'work-dir-size': { type: 'string', describe: 'sizeLimit of the WORK_DIR emptyDir, e.g. 100Gi' },
  help: { type: 'boolean', describe: 'show this help' },
};

function usage(scriptName: string): string {
  const lines = Object.entries(FLAGS).map(([name, f]) => {
    const extra = [f.env ? `env ${f.env}` : '', f.default !== undefined ? `default ${f.default}` : ''].filter(Boolean).join(', ');
    return `  --${name.padEnd(20)} ${f.describe}${extra ? ` [${extra}]` : ''}`;
  });
  return [
    `Usage: ${scriptName} ${K8S_MANIFEST_COMMAND} --image IMAGE --job-id ID --model-name M --dataset-s3-uri URI [options]`,
    '',
    'Prints Kubernetes manifests (YAML) for one training job: a batch/v1 Job on one node; a Kubeflow Trainer TrainJob',
    'and its ClusterTrainingRuntime (or, with --engine jobset, a JobSet) on several. Failure rules follow the exit codes.',
    '',
    ...lines,
  ].join('\n');
}

function intFlag(problems: string[], name: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    problems.push(`--${name}: expected an integer >= ${min}, got "${text}"`);
    return min;
  }
  return n;
}

export interface K8sManifestInput {
  app: string;
  version: string;
  configSchema: z.ZodType;
  env: NodeJS.ProcessEnv;
}

/** `trainer-<app> k8s-manifest …`: the YAML to apply, or a help text. Bad flags or config are a ConfigError (exit 3). */
export async function k8sManifestCommand(argv: readonly string[], input: K8sManifestInput): Promise<{ output: string }> {
  const scriptName = `trainer-${input.app}`;
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: Object.fromEntries(Object.entries(FLAGS).map(([k, f]) => [k, { type: f.type }])),
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    const unknown = /Unknown option '--?([^']+)'/.exec((err as Error).message);
    const hint = unknown ? closest(unknown[1]!, Object.keys(FLAGS)) : undefined;
    throw new ConfigError(`${K8S_MANIFEST_COMMAND}: ${(err as Error).message}${hint ? ` (did you mean --${hint}?)` : ''}`);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values['help']) return { output: usage(scriptName) + '\n' };

  const problems: string[] = [];
  const value = (name: string): string | undefined => {
    const v = values[name];
    if (typeof v === 'string' && v.trim() !== '') return v.trim();
    const envName = FLAGS[name]?.env;
    const fromEnv = envName ? input.env[envName]?.trim() : undefined;
    return fromEnv ? fromEnv : FLAGS[name]?.default;
  };
  const required = (name: string): string => {
    const v = value(name);
    if (v === undefined) problems.push(`--${name}: required${FLAGS[name]?.env ? ` (or set ${FLAGS[name]!.env})` : ''}`);
    return v ?? '';
  };

  const image = required('image');
  const jobId = required('job-id');
  const modelName = required('model-name');
  const datasetUri = required('dataset-s3-uri');
  const engine = value('engine')!;
  if (engine !== 'trainjob' && engine !== 'jobset') problems.push(`--engine: expected trainjob or jobset, got "${engine}"`);
  if (image && !/^[a-z0-9][\w.\-/:@]*$/i.test(image)) problems.push(`--image: "${image}" is not an image reference`);
  if (jobId && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(jobId)) problems.push(`--job-id: "${jobId}" must be 1-128 characters of letters, digits, '.', '_' or '-'`);
  const gpus = intFlag(problems, 'gpus', value('gpus')!, 0);
  const nodes = intFlag(problems, 'nodes', value('nodes')!, 1);

  let config: Record<string, unknown> = {};
  let configText = value('config');
  if (configText?.startsWith('@')) {
    try {
      configText = await readFile(configText.slice(1), 'utf8');
    } catch (err) {
      problems.push(`--config: cannot read ${configText.slice(1)} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      configText = undefined;
    }
  }
  if (configText !== undefined) {
    try {
      const raw = JSON.parse(configText) as unknown;
      parseConfigObject(input.configSchema as never, raw);
      config = raw as Record<string, unknown>;
    } catch (err) {
      if (err instanceof ConfigError) problems.push(...err.problems);
      else problems.push(`config: not valid JSON (${(err as Error).message})`);
    }
  }
  if (problems.length) throw new ConfigError(problems);

  const options: ManifestOptions = {
    app: input.app,
    version: input.version,
    image,
    jobId,
    modelName,
    datasetUri,
    callbackUrl: value('callback-url'),
    config,
    gpus,
    nodes,
    engine: engine as ManifestOptions['engine'],
    namespace: value('namespace'),
    secretName: value('secret')!,
    queue: value('queue'),
    s3Bucket: value('s3-bucket'),
    s3Endpoint: value('s3-endpoint'),
    mlflowTrackingUri: value('mlflow-tracking-uri'),
    backoffLimit: intFlag(problems, 'backoff-limit', value('backoff-limit')!, 0),
    maxRestarts: intFlag(problems, 'max-restarts', value('max-restarts')!, 0),
    activeDeadlineSeconds: intFlag(problems, 'deadline-seconds', value('deadline-seconds')!, 1),
    terminationGracePeriodSeconds: intFlag(problems, 'grace-seconds', value('grace-seconds')!, 30),
    cpu: value('cpu'),
    memory: value('memory'),
    workDirSize: value('work-dir-size'),
  };
  if (problems.length) throw new ConfigError(problems);
  return { output: renderManifests(manifestsFor(options), scriptName) };
}

/** Multi-document YAML; no timestamp, so the same flags always print the same bytes (the examples are tested). */
export function renderManifests(docs: readonly Record<string, unknown>[], scriptName: string): string {
  const header = `# Generated by \`${scriptName} ${K8S_MANIFEST_COMMAND}\`; apply with kubectl apply -f.\n`;
  return header + docs.map((d) => '---\n' + stringify(d, { lineWidth: 0 })).join('');
}
