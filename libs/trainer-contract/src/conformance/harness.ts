import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { startS3Server, type S3TestServer } from '../testing/s3-server.js';
import { listKeys, prepareDatasets, suiteS3Client, type SuiteDatasets } from './datasets.js';
import { realMlflow, readMlflowRuns, type MlflowRunView } from './mlflow.js';
import { launch } from './processes.js';
import { startPolicyReceiver, type AnswerPolicy, type PolicyReceiver, type ReceivedRequest } from './receiver.js';
import type { ConformanceMlflow, ConformanceOptions, ConformanceProfile } from './types.js';

export const OUTPUT_BUCKET = 'ckpts';
/** Stands for the run's callback receiver URL in args and env values; the harness fills it in. */
export const RECEIVER = '{receiver}';

export interface RunDirs {
  /** The run's own scratch: WORK_DIR. Everything else below must stay empty on bad input. */
  work: string;
  cwd: string;
  home: string;
  tmp: string;
  terminationLog: string;
  /** For files the scenario writes for the trainer (a config file). */
  inputs: string;
}

interface RunControl {
  pid: number;
  receiver: PolicyReceiver;
  exited(): boolean;
  /** Resolves true when `predicate` holds, false when the trainer exited first. */
  until(predicate: () => boolean): Promise<boolean>;
}

export interface RunSpec {
  /** Unique within a suite run: names the run's folders and, by default, its MLflow experiment. */
  id: string;
  jobId?: string;
  args: (dirs: RunDirs) => string[] | Promise<string[]>;
  /** Added last; a key set to undefined removes that variable. */
  env?: NodeJS.ProcessEnv;
  /** Adds the profile's slowEnv (for runs signalled mid-training). */
  slow?: boolean;
  /** How the backend answers this run's callbacks (default 200 to everything). */
  policy?: AnswerPolicy;
  /** Runs sharing an experiment see each other's runs (a job and its restart). */
  experiment?: string;
  /** Acts on the running trainer (signals); what it returns is kept in the result's notes. */
  during?: (ctl: RunControl) => Promise<Record<string, unknown>>;
}

export interface RunResult {
  id: string;
  jobId?: string;
  args: string[];
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  /** TERMINATION_LOG's text ('' when the trainer wrote none). */
  termination: string;
  /** Files the run left in its cwd, HOME or TMPDIR. */
  strayFiles: string[];
  /** Keys under `checkpoints/{jobId}/` after the run. */
  s3Keys: string[];
  received: ReceivedRequest[];
  mlflowRuns: MlflowRunView[];
  notes: Record<string, unknown>;
  durationMs: number;
  dirs: RunDirs;
}

/** Values no output may contain (CONTRACT §3). */
export interface SuiteSecrets {
  awsSecretKey: string;
  callbackSecret: string;
  callbackToken: string;
  /** A password the suite puts in a URL on purpose. */
  urlPassword: string;
  /** Every value to look for, with what it is. */
  all: Array<{ name: string; value: string }>;
}

/** The suite's world: its own S3, MLflow and datasets, and a way to run the trainer inside it. */
export class Harness {
  private constructor(
    readonly profile: ConformanceProfile,
    readonly root: string,
    readonly s3: S3TestServer,
    readonly client: S3Client,
    readonly mlflow: ConformanceMlflow,
    readonly datasets: SuiteDatasets,
    readonly secrets: SuiteSecrets,
    private readonly keepScratch: boolean,
  ) {}

  static async start(profile: ConformanceProfile, opts: ConformanceOptions): Promise<Harness> {
    const root = await mkdtemp(join(tmpdir(), `conformance-${profile.name}-`));
    const closers: Array<() => Promise<unknown>> = [];
    try {
      const s3 = await startS3Server({ buckets: ['datasets', OUTPUT_BUCKET], directory: join(root, 's3rver') });
      closers.push(() => s3.close());
      const mlflow = await (opts.mlflow ?? realMlflow)();
      closers.push(() => mlflow.close());
      const rand = () => Math.random().toString(36).slice(2, 10);
      const callbackKey = Buffer.from(`conformance-signing-key-${rand()}`).toString('base64');
      const secrets = {
        // s3rver checks the access key id only, so the secret key can be one no output could contain by chance.
        awsSecretKey: `conformance-aws-secret-${rand()}`,
        callbackSecret: `whsec_${callbackKey}`,
        callbackToken: `conformance-callback-token-${rand()}`,
        urlPassword: `conformance-url-password-${rand()}`,
      };
      const all = [
        { name: 'AWS_SECRET_ACCESS_KEY', value: secrets.awsSecretKey },
        // s3rver's fixed access key id: a secret by name (CONTRACT §3 "keys"), and one no log has a reason to print.
        { name: 'AWS_ACCESS_KEY_ID', value: s3.env.AWS_ACCESS_KEY_ID },
        { name: 'CALLBACK_SECRET', value: secrets.callbackSecret },
        { name: 'the key inside CALLBACK_SECRET', value: callbackKey },
        { name: 'CALLBACK_TOKEN', value: secrets.callbackToken },
        { name: 'a password in a URL', value: secrets.urlPassword },
        ...(mlflow.token ? [{ name: 'MLFLOW_TRACKING_TOKEN', value: mlflow.token }] : []),
      ];
      const client = suiteS3Client({ ...s3.env, AWS_SECRET_ACCESS_KEY: secrets.awsSecretKey });
      closers.push(async () => client.destroy());
      const datasets = await prepareDatasets(join(root, 'data'), client, profile);
      return new Harness(profile, root, s3, client, mlflow, datasets, { ...secrets, all }, opts.keepScratch ?? false);
    } catch (err) {
      for (const close of closers.reverse()) await close().catch(() => undefined);
      await rm(root, { recursive: true, force: true });
      throw err;
    }
  }

  get scriptName(): string {
    return `trainer-${this.profile.name}`;
  }

  /** The profile's quick config with this many epochs. */
  config(epochs: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { ...(this.profile.config ?? {}), ...extra, epochs };
  }

  async run(spec: RunSpec): Promise<RunResult> {
    const base = join(this.root, 'runs', spec.id);
    const dirs: RunDirs = {
      work: join(base, 'work'),
      cwd: join(base, 'cwd'),
      home: join(base, 'home'),
      tmp: join(base, 'tmp'),
      inputs: join(base, 'inputs'),
      terminationLog: join(base, 'termination-log'),
    };
    for (const dir of [dirs.cwd, dirs.home, dirs.tmp, dirs.inputs]) await mkdir(dir, { recursive: true });
    const receiver = await startPolicyReceiver({ secret: this.secrets.callbackSecret, ...(spec.policy ? { policy: spec.policy } : {}) });
    try {
      const fill = (v: string) => v.split(RECEIVER).join(receiver.url);
      const args = (await spec.args(dirs)).map(fill);
      const env = Object.fromEntries(Object.entries(this.envFor(spec, dirs)).map(([k, v]) => [k, v === undefined ? v : fill(v)]));
      const started = Date.now();
      const proc = launch(this.profile.command, args, { env, cwd: dirs.cwd, timeoutMs: this.profile.runTimeoutMs ?? 180_000 });
      const notes = spec.during
        ? await spec.during({
            pid: proc.child.pid ?? -1,
            receiver,
            exited: proc.exited,
            async until(predicate) {
              while (!predicate()) {
                if (proc.exited()) return predicate();
                await new Promise((r) => setTimeout(r, 25));
              }
              return true;
            },
          })
        : {};
      const out = await proc.done;
      const durationMs = Date.now() - started;
      return {
        id: spec.id,
        ...(spec.jobId ? { jobId: spec.jobId } : {}),
        args,
        exitCode: out.code,
        signal: out.signal,
        timedOut: out.timedOut,
        stdout: out.stdout,
        stderr: out.stderr,
        termination: existsSync(dirs.terminationLog) ? await readFile(dirs.terminationLog, 'utf8') : '',
        strayFiles: await strayFiles(dirs),
        s3Keys: spec.jobId ? await listKeys(this.client, OUTPUT_BUCKET, `checkpoints/${spec.jobId}/`) : [],
        received: [...receiver.received],
        mlflowRuns: await readMlflowRuns(this.mlflow, spec.experiment ?? experimentFor(spec.id)),
        notes,
        durationMs,
        dirs,
      };
    } finally {
      await receiver.close();
    }
  }

  private envFor(spec: RunSpec, dirs: RunDirs): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env['PATH'],
      LANG: 'C.UTF-8',
      HOME: dirs.home,
      TMPDIR: dirs.tmp,
      ...this.s3.env,
      AWS_SECRET_ACCESS_KEY: this.secrets.awsSecretKey,
      S3_BUCKET: OUTPUT_BUCKET,
      MLFLOW_TRACKING_URI: this.mlflow.uri,
      ...(this.mlflow.token ? { MLFLOW_TRACKING_TOKEN: this.mlflow.token } : {}),
      MLFLOW_EXPERIMENT_NAME: spec.experiment ?? experimentFor(spec.id),
      CALLBACK_SECRET: this.secrets.callbackSecret,
      CALLBACK_TOKEN: this.secrets.callbackToken,
      TERMINATION_LOG: dirs.terminationLog,
      ...(this.profile.env ?? {}),
      ...(spec.slow ? (this.profile.slowEnv ?? {}) : {}),
      ...(spec.env ?? {}),
    };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
    return env;
  }

  async close(): Promise<void> {
    this.client.destroy();
    await this.mlflow.close().catch(() => undefined);
    await this.s3.close().catch(() => undefined);
    if (!this.keepScratch) await rm(this.root, { recursive: true, force: true });
  }
}

export function experimentFor(runId: string): string {
  return `conformance-${runId}`;
}

async function strayFiles(dirs: RunDirs): Promise<string[]> {
  const out: string[] = [];
  const visit = async (label: string, root: string, dir: string) => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await visit(label, root, path);
      out.push(`${label}/${relative(root, path)}`);
    }
  };
  await visit('cwd', dirs.cwd, dirs.cwd);
  await visit('HOME', dirs.home, dirs.home);
  await visit('TMPDIR', dirs.tmp, dirs.tmp);
  return out;
}
