import { describe, expect, it } from '@jest/globals';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTrainerArgs } from './args.js';
import { ConfigError } from '../errors/index.js';

const opts = (env: NodeJS.ProcessEnv = {}) => ({ env, scriptName: 'trainer-x', version: '1.2.3' });
const base = ['--job-id', '1', '--model-name', 'yolov8n', '--dataset-s3-uri', 's3://b/p/', '--callback-url', 'http://h/api', '--config', '{}'];
const run = async (argv: string[], env?: NodeJS.ProcessEnv) => {
  const out = await parseTrainerArgs(argv, opts(env));
  if (out.kind !== 'run') throw new Error('expected a run');
  return out.args;
};
const problems = async (argv: string[], env?: NodeJS.ProcessEnv) => {
  const err = await parseTrainerArgs(argv, opts(env)).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ConfigError);
  return (err as ConfigError).problems;
};

describe('flags and env', () => {
  it('reads every seed flag', async () => {
    const a = await run(base);
    expect(a).toMatchObject({ jobId: '1', modelName: 'yolov8n', datasetUri: 's3://b/p/', callbackUrl: 'http://h/api', configText: '{}', logLevel: 'info', validateOnly: false });
  });

  it('falls back to the seed env vars, and a flag wins over its env var', async () => {
    const env = { JOB_ID: 'env-job', MODEL_NAME: 'yolo11n', DATASET_S3_URI: 's3://e/x/', CALLBACK_URL: 'http://env', CONFIG: '{"epochs":3}', LOG_LEVEL: 'DEBUG' };
    expect(await run([], env)).toMatchObject({ jobId: 'env-job', modelName: 'yolo11n', datasetUri: 's3://e/x/', callbackUrl: 'http://env', configText: '{"epochs":3}', logLevel: 'debug' });
    const flagged = await run(['--job-id', 'flag-job', '--config', '{"epochs":9}', '--log-level', 'warn'], env);
    expect(flagged).toMatchObject({ jobId: 'flag-job', modelName: 'yolo11n', configText: '{"epochs":9}', logLevel: 'warn' });
  });

  it('reads @file configs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cli-'));
    const file = join(dir, 'c.json');
    await writeFile(file, '{"epochs": 5}');
    const a = await run([...base.slice(0, 8), '--config', `@${file}`]);
    expect(a.configText).toBe('{"epochs": 5}');
    expect(a.configSource).toBe(file);
    expect(await problems([...base.slice(0, 8), '--config', `@${dir}/missing.json`])).toEqual([`--config: cannot read ${dir}/missing.json (ENOENT)`]);
  });

  it.each([
    ['--job-id', 'JOB_ID'],
    ['--model-name', 'MODEL_NAME'],
    ['--dataset-s3-uri', 'DATASET_S3_URI'],
  ])('refuses a run without %s', async (flag, env) => {
    const argv = [...base];
    argv.splice(argv.indexOf(flag), 2);
    expect(await problems(argv)).toEqual([`${flag}: required (or set ${env})`]);
  });

  it('runs without --callback-url (payloads are logged) and without --config (defaults)', async () => {
    const argv = base.slice(0, 6);
    const a = await run(argv);
    expect(a.callbackUrl).toBeUndefined();
    expect(a.configText).toBeUndefined();
  });

  it('names unknown flags with a suggestion, and bad log levels', async () => {
    expect(await problems([...base, '--job-idd', '2'])).toEqual(['--job-idd: unknown flag (did you mean --job-id?)']);
    expect(await problems([...base, '--log-level', 'loud'])).toEqual(['--log-level: "loud" is not one of trace, debug, info, warn, error, fatal, silent']);
  });

  it('parses --describe without the job flags', async () => {
    expect(await parseTrainerArgs(['--describe'], { env: {}, scriptName: 'trainer-x', version: '1.0.0' })).toEqual({ kind: 'describe' });
  });

  it('parses --validate-only', async () => {
    expect((await run([...base, '--validate-only'])).validateOnly).toBe(true);
  });

  it('prints help with examples, and the version', async () => {
    const help = await parseTrainerArgs(['--help'], opts());
    expect(help.kind).toBe('exit');
    const text = (help as { output: string }).output;
    expect(text).toContain('Examples:');
    expect(text).toContain('--dataset-s3-uri');
    expect(text).toContain('[env DATASET_S3_URI]');
    expect(text).toContain('143 interrupted');
    const version = await parseTrainerArgs(['--version'], opts());
    expect(version).toEqual({ kind: 'exit', code: 0, output: '1.2.3' });
  });
});
