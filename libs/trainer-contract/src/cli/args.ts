import { readFile } from 'node:fs/promises';
import yargs from 'yargs';
import { ConfigError } from '../errors/index.js';
import { LOG_LEVELS, type LogLevel } from '../log/index.js';
import { closest } from '../config/index.js';

/** What the seed and CONTRACT §1 accept, after flag-over-env precedence. */
export interface TrainerArgs {
  jobId: string;
  modelName: string;
  datasetUri: string;
  callbackUrl?: string;
  /** The config's JSON text, already read when it was given as `@file`. */
  configText?: string;
  /** Where the config came from, for messages: `--config`, `CONFIG`, or the file path. */
  configSource?: string;
  logLevel: LogLevel;
  validateOnly: boolean;
  workDir?: string;
  outputDir?: string;
}

export const SCHEMA_KINDS = ['config', 'progress', 'completion'] as const;
export type SchemaKind = (typeof SCHEMA_KINDS)[number];

export type CliOutcome =
  | { kind: 'run'; args: TrainerArgs }
  | { kind: 'exit'; code: number; output: string }
  | { kind: 'schema'; which: SchemaKind }
  | { kind: 'describe' };

interface FlagSpec {
  env?: string;
  describe: string;
  type: 'string' | 'boolean';
  required?: boolean;
}

const FLAGS: Record<string, FlagSpec> = {
  'job-id': { env: 'JOB_ID', describe: 'Training job id (used in callback paths and the S3 checkpoint prefix)', type: 'string', required: true },
  'model-name': { env: 'MODEL_NAME', describe: 'Model to train, e.g. yolov8n, yolo11n-seg, a .yaml, a .pt path or s3:// URI', type: 'string', required: true },
  'dataset-s3-uri': {
    env: 'DATASET_S3_URI',
    describe: 'Dataset: s3://bucket/prefix/, an s3:// or local .zip/.tar/.tar.gz, a local directory or file:// URI',
    type: 'string',
    required: true,
  },
  'callback-url': { env: 'CALLBACK_URL', describe: 'Backend base URL for callbacks; without it, payloads are logged instead', type: 'string' },
  config: { env: 'CONFIG', describe: 'Training config: inline JSON, or @path/to/config.json', type: 'string' },
  'log-level': { env: 'LOG_LEVEL', describe: `Log level: ${LOG_LEVELS.join(', ')} (case-insensitive)`, type: 'string' },
  'print-schema': { describe: `Print a JSON Schema and exit: ${SCHEMA_KINDS.join(', ')}`, type: 'string' },
  describe: { describe: 'Print what this trainer accepts (framework, tasks, dataset formats, metrics, config schema) as JSON and exit', type: 'boolean' },
  'validate-only': { describe: 'Stage and convert the dataset, check config and model, print the plan, then exit', type: 'boolean' },
  'work-dir': { env: 'WORK_DIR', describe: 'Scratch directory (default: a new temp dir)', type: 'string' },
  'output-dir': { env: 'OUTPUT_DIR', describe: 'Where checkpoints go when S3_BUCKET is unset (default: ./outputs/<job-id>)', type: 'string' },
};

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

function buildParser(scriptName: string, version: string) {
  let parser = yargs()
    .scriptName(scriptName)
    .usage(`Usage: ${scriptName} [options]\n\nRuns one training job end to end: stage data, convert, train, report, upload.\nEvery option can also come from the environment variable shown.`)
    .version(version)
    .help('help')
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .parserConfiguration({ 'camel-case-expansion': true, 'strip-dashed': false })
    .exitProcess(false);
  for (const [flag, spec] of Object.entries(FLAGS)) {
    parser = parser.option(flag, {
      type: spec.type,
      describe: spec.env ? `${spec.describe} [env ${spec.env}]` : spec.describe,
    });
  }
  return parser
    .example(
      `${scriptName} --job-id 123 --model-name yolov8n --dataset-s3-uri s3://bucket/datasets/abc/ --callback-url http://backend:8000/api/v1/training --config '{"epochs": 50, "batch": 16}'`,
      'the seed invocation',
    )
    .example(`${scriptName} --job-id demo --model-name yolov8n.yaml --dataset-s3-uri ./my-dataset --config @config.json`, 'local run: no S3, callbacks logged')
    .example(`JOB_ID=7 MODEL_NAME=yolo11n-seg DATASET_S3_URI=s3://b/ds.zip ${scriptName} --validate-only`, 'check a dataset and config without training')
    .epilogue('Exit codes: 0 done, 1 training failed, 2 trained but completion callback undelivered, 3 invalid input, 143 interrupted (resumable).');
}

/** Parses flags with env fallbacks (a flag wins over its env var). Never exits the process. */
export async function parseTrainerArgs(
  argv: readonly string[],
  opts: { env: NodeJS.ProcessEnv; scriptName: string; version: string },
): Promise<CliOutcome> {
  const parser = buildParser(opts.scriptName, opts.version);
  const { parsed, output, error } = await new Promise<{ parsed: Record<string, unknown>; output: string; error?: Error }>((resolve) => {
    void parser.parse([...argv], {}, (err, parsedArgs, out) => resolve({ parsed: parsedArgs as Record<string, unknown>, output: out, error: err ?? undefined }));
  });
  if (parsed['help'] || parsed['version']) return { kind: 'exit', code: 0, output };
  if (error) throw new ConfigError(`flags: ${error.message}`);
  if (parsed['describe'] === true) return { kind: 'describe' };
  if (parsed['print-schema'] !== undefined) {
    const which = String(parsed['print-schema']);
    if (!(SCHEMA_KINDS as readonly string[]).includes(which)) throw new ConfigError(`--print-schema: expected one of ${SCHEMA_KINDS.join(', ')}, got "${which}"`);
    return { kind: 'schema', which: which as SchemaKind };
  }

  const problems: string[] = [];
  const known = new Set(['_', '$0', 'help', 'h', 'version', ...Object.keys(FLAGS), ...Object.keys(FLAGS).map(camel)]);
  for (const key of Object.keys(parsed)) {
    if (known.has(key) || (key.includes('-') && known.has(camel(key)))) continue;
    if (/[A-Z]/.test(key) && Object.keys(parsed).includes(key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase()))) continue;
    const hint = closest(key, Object.keys(FLAGS));
    problems.push(`--${key}: unknown flag${hint ? ` (did you mean --${hint}?)` : ''}`);
  }
  const positional = (parsed['_'] as unknown[]) ?? [];
  if (positional.length) problems.push(`unexpected argument "${String(positional[0])}" (flags take the form --name value)`);

  const value = (flag: string): string | undefined => {
    const fromFlag = parsed[flag];
    if (Array.isArray(fromFlag)) {
      problems.push(`--${flag}: given more than once`);
      return undefined;
    }
    if (typeof fromFlag === 'string') return fromFlag;
    const envName = FLAGS[flag]?.env;
    const fromEnv = envName ? opts.env[envName] : undefined;
    return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
  };

  for (const [flag, spec] of Object.entries(FLAGS)) {
    if (!spec.required) continue;
    const v = value(flag);
    if (v === undefined || v.trim() === '') problems.push(`--${flag}: required (or set ${spec.env})`);
  }

  const levelText = (value('log-level') ?? 'info').toLowerCase();
  const logLevel = (levelText === 'warning' ? 'warn' : levelText === 'critical' ? 'fatal' : levelText) as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`--log-level: "${levelText}" is not one of ${LOG_LEVELS.join(', ')}`);

  let configText = value('config');
  let configSource = typeof parsed['config'] === 'string' ? '--config' : configText !== undefined ? 'CONFIG' : undefined;
  if (configText?.startsWith('@')) {
    const path = configText.slice(1);
    configSource = path;
    try {
      configText = await readFile(path, 'utf8');
    } catch (err) {
      problems.push(`--config: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  if (problems.length) throw new ConfigError(problems);

  return {
    kind: 'run',
    args: {
      jobId: value('job-id')!.trim(),
      modelName: value('model-name')!.trim(),
      datasetUri: value('dataset-s3-uri')!.trim(),
      callbackUrl: value('callback-url'),
      configText,
      configSource,
      logLevel,
      validateOnly: parsed['validate-only'] === true,
      workDir: value('work-dir'),
      outputDir: value('output-dir'),
    },
  };
}
