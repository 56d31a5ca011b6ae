import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { PassThrough } from 'node:stream';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { create as createTar } from 'tar';
import { runTrainerCli } from './run.js';
import { createS3Client } from '../s3/index.js';
import { createScriptedDriver, startCallbackReceiver, startS3Server, writeShapesDataset, type CallbackReceiver, type S3TestServer } from '../testing/index.js';

const SECRETS = { CALLBACK_TOKEN: 'cbtok-SECRET-1x', CALLBACK_SECRET: 'cbsec-SECRET-2x', MLFLOW_TRACKING_PASSWORD: 'mlpw-SECRET-3x' };
const URL_PASSWORD = 'urlpw-SECRET-4x';

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out.sort();
}

interface Case {
  name: string;
  /** The one stderr line must match. */
  names: RegExp;
  /** Replaces the defaults: a flag set to null is left out. */
  flags?: Record<string, string | null>;
  extra?: string[];
  env?: NodeJS.ProcessEnv;
}

/**
 * The user's mistakes, across flags, env, config, model, URIs, archives and annotations. Each must exit 3 with
 * one stderr line naming the item, no stack trace, no secret anywhere it prints, nothing written outside WORK_DIR.
 */
describe('bad input: exit 3, one line naming the item, no stack, no secret, nothing outside WORK_DIR', () => {
  let s3: S3TestServer;
  let rx: CallbackReceiver;
  let root: string;
  let inputs: string;
  let inputsBefore: string[];
  const d: Record<string, string> = {};

  beforeAll(async () => {
    s3 = await startS3Server({ buckets: ['datasets', 'ckpts'] });
    rx = await startCallbackReceiver({ secret: SECRETS.CALLBACK_SECRET });
    root = await mkdtemp(join(tmpdir(), 'bad-input-'));
    inputs = join(root, 'inputs');
    const good = join(inputs, 'good');
    await writeShapesDataset(good, { images: 6, size: 32 });
    const client = createS3Client(s3.env);
    for (const file of await walk(good)) {
      await client.send(new PutObjectCommand({ Bucket: 'datasets', Key: `shapes/${relative(good, file)}`, Body: await readFile(file) }));
    }
    client.destroy();
    const text = await readFile(join(good, 'annotations.json'), 'utf8');
    const variant = async (name: string, edit: ((a: Record<string, unknown[]>) => void) | string | null) => {
      const dir = join(inputs, name);
      await writeShapesDataset(dir, { images: 6, size: 32 });
      if (edit === null) await writeFile(join(dir, 'annotations.json.gone'), '');
      if (edit === null) execFileSync('rm', [join(dir, 'annotations.json')]);
      else if (typeof edit === 'string') await writeFile(join(dir, 'annotations.json'), edit);
      else {
        const a = JSON.parse(text) as Record<string, unknown[]>;
        edit(a);
        await writeFile(join(dir, 'annotations.json'), JSON.stringify(a));
      }
      return dir;
    };
    d['truncated'] = await variant('truncated', text.slice(0, Math.floor(text.length / 2)));
    d['bboxType'] = await variant('bbox-type', (a) => void ((a['annotations']![0] as Record<string, unknown>)['bbox'] = 'wide'));
    d['escape'] = await variant('escape', (a) => void ((a['images']![0] as Record<string, unknown>)['file_name'] = '../../outside.png'));
    d['empty'] = await variant('empty', (a) => {
      a['images'] = [];
      a['annotations'] = [];
    });
    d['noAnnotations'] = await variant('no-annotations', null);
    d['imagesNotArray'] = await variant('images-not-array', (a) => void ((a as Record<string, unknown>)['images'] = { x: 1 }));
    d['categoryType'] = await variant('category-type', (a) => void ((a['categories']![0] as Record<string, unknown>)['id'] = 'one'));
    const archives = join(inputs, 'archives');
    await mkdir(archives, { recursive: true });
    d['corruptZip'] = join(archives, 'corrupt.zip');
    await writeFile(d['corruptZip'], Buffer.from('PK\x03\x04 this is not really a zip file at all'));
    d['corruptTgz'] = join(archives, 'corrupt.tar.gz');
    await writeFile(d['corruptTgz'], Buffer.from('\x1f\x8b\x08\x00 truncated gzip'));
    d['slipZip'] = join(archives, 'slip.zip');
    execFileSync('/usr/bin/python3', ['-c', `import zipfile\nz = zipfile.ZipFile(${JSON.stringify(d['slipZip'])}, "w")\nz.writestr("../../evil.txt", "x")\nz.writestr("annotations.json", "{}")\nz.close()`]);
    d['emptyTar'] = join(archives, 'empty.tar');
    await mkdir(join(archives, 'nothing'), { recursive: true });
    await createTar({ file: d['emptyTar'], cwd: join(archives, 'nothing') }, ['.']);
    d['notArchive'] = join(archives, 'notes.txt');
    await writeFile(d['notArchive'], 'just text');
    inputsBefore = await walk(inputs);
  }, 120_000);
  afterAll(async () => {
    await rx?.close();
    await s3?.close();
  });

  const cases: Case[] = [
    // flags
    { name: 'an unknown flag --epochs', names: /--epochs\b/, extra: ['--epochs', '3'] },
    { name: 'no --job-id', names: /--job-id/, flags: { '--job-id': null } },
    { name: 'a --job-id that escapes ("../x")', names: /--job-id/, flags: { '--job-id': '../x' } },
    { name: 'a --job-id of 200 characters', names: /--job-id/, flags: { '--job-id': 'j'.repeat(200) } },
    { name: 'no --model-name', names: /--model-name/, flags: { '--model-name': null } },
    { name: 'no --dataset-s3-uri', names: /--dataset-s3-uri/, flags: { '--dataset-s3-uri': null } },
    { name: 'an unknown --log-level', names: /log-level/i, extra: ['--log-level', 'loud'] },
    { name: 'an ftp:// --callback-url with a password in it', names: /--callback-url/, flags: { '--callback-url': `ftp://user:${URL_PASSWORD}@127.0.0.1/api` } },
    { name: 'a --callback-url that is not a URL', names: /--callback-url/, flags: { '--callback-url': 'not a url' } },
    { name: 'a --config @file that does not exist', names: /no-such-config\.json/, flags: { '--config': '@/nonexistent/no-such-config.json' } },
    { name: 'a --config that is not JSON', names: /config/i, flags: { '--config': '{"epochs": 2' } },
    // environment
    { name: 'CALLBACK_INTERVAL=0', names: /CALLBACK_INTERVAL/, env: { CALLBACK_INTERVAL: '0' } },
    { name: 'CALLBACK_TIMEOUT=-1', names: /CALLBACK_TIMEOUT/, env: { CALLBACK_TIMEOUT: '-1' } },
    { name: 'CALLBACK_RETRIES=many', names: /CALLBACK_RETRIES/, env: { CALLBACK_RETRIES: 'many' } },
    { name: 'CALLBACK_FAILURE_BUDGET_S=soon', names: /CALLBACK_FAILURE_BUDGET_S/, env: { CALLBACK_FAILURE_BUDGET_S: 'soon' } },
    { name: 'an ftp:// S3_ENDPOINT', names: /S3_ENDPOINT/, env: { S3_ENDPOINT: 'ftp://127.0.0.1:1' } },
    { name: 'S3_REQUEST_TIMEOUT_S=0', names: /S3_REQUEST_TIMEOUT_S/, env: { S3_REQUEST_TIMEOUT_S: '0' } },
    { name: 'S3_MAX_ATTEMPTS=99', names: /S3_MAX_ATTEMPTS/, env: { S3_MAX_ATTEMPTS: '99' } },
    { name: 'PROGRESS_PHASE_INTERVAL_S=-1', names: /PROGRESS_PHASE_INTERVAL_S/, env: { PROGRESS_PHASE_INTERVAL_S: '-1' } },
    { name: 'an unknown key in the CONFIG env var', names: /\bepohcs\b/, flags: { '--config': null }, env: { CONFIG: '{"epohcs": 2}' } },
    // config
    { name: 'an unknown key "epoch"', names: /config\.epoch\b.*"epochs"/, flags: { '--config': '{"epoch": 2}' } },
    { name: 'epochs of the wrong type', names: /config\.epochs/, flags: { '--config': '{"epochs": "two"}' } },
    { name: 'epochs 0', names: /config\.epochs/, flags: { '--config': '{"epochs": 0}' } },
    { name: 'batch 0', names: /config\.batch/, flags: { '--config': '{"epochs": 1, "batch": 0}' } },
    { name: 'checkpoint_interval 0', names: /config\.checkpoint_interval/, flags: { '--config': '{"epochs": 1, "checkpoint_interval": 0}' } },
    { name: 'a negative stall_timeout_s', names: /config\.stall_timeout_s/, flags: { '--config': '{"epochs": 1, "stall_timeout_s": -5}' } },
    { name: 'strict_data "yes"', names: /config\.strict_data/, flags: { '--config': '{"epochs": 1, "strict_data": "yes"}' } },
    { name: 'split_config.val_ratio 2', names: /val_ratio/, flags: { '--config': '{"epochs": 1, "split_config": {"val_ratio": 2}}' } },
    { name: 'an unknown task', names: /config\.task/, flags: { '--config': '{"epochs": 1, "task": "juggle"}' } },
    { name: 'a config that is an array', names: /config/i, flags: { '--config': '[]' } },
    { name: 'a config that is null', names: /config/i, flags: { '--config': 'null' } },
    { name: 'a device that is not one', names: /config\.device/, flags: { '--config': '{"epochs": 1, "device": "gpu!"}' } },
    { name: 'a framework key out of range (lr0 -1)', names: /config\.lr0/, flags: { '--config': '{"epochs": 1, "lr0": -1}' } },
    { name: 'a framework key with an unknown value (optimizer)', names: /config\.optimizer/, flags: { '--config': '{"epochs": 1, "optimizer": "Nope"}' } },
    // model
    { name: 'an unknown model name', names: /nope-model-x9/, flags: { '--model-name': 'nope-model-x9' } },
    { name: 'an s3:// model that is not there', names: /s3:\/\/datasets\/models\/absent\.pt/, flags: { '--model-name': 's3://datasets/models/absent.pt' } },
    // URIs
    { name: 'a gs:// dataset URI', names: /gs:/, flags: { '--dataset-s3-uri': 'gs://datasets/shapes/' } },
    { name: 'an s3:// URI without a bucket', names: /s3:\/\//, flags: { '--dataset-s3-uri': 's3://' } },
    { name: 'an S3 bucket that does not exist', names: /no-such-bucket-b1/, flags: { '--dataset-s3-uri': 's3://no-such-bucket-b1/shapes/' } },
    { name: 'an S3 prefix with no objects', names: /no-such-prefix/, flags: { '--dataset-s3-uri': 's3://datasets/no-such-prefix/' } },
    { name: 'an S3 archive key that does not exist', names: /absent\.zip/, flags: { '--dataset-s3-uri': 's3://datasets/absent.zip' } },
    { name: 'a local folder that does not exist', names: /no-such-dir/, flags: { '--dataset-s3-uri': '/nonexistent/no-such-dir' } },
    { name: 'a local file that is no archive', names: /notes\.txt/, flags: { '--dataset-s3-uri': '@notArchive' } },
    // archives
    { name: 'a corrupt .zip', names: /corrupt\.zip/, flags: { '--dataset-s3-uri': '@corruptZip' } },
    { name: 'a corrupt .tar.gz', names: /corrupt\.tar\.gz/, flags: { '--dataset-s3-uri': '@corruptTgz' } },
    { name: 'a .zip with an entry escaping its folder', names: /evil\.txt/, flags: { '--dataset-s3-uri': '@slipZip' } },
    { name: 'a .tar with no files', names: /empty\.tar/, flags: { '--dataset-s3-uri': '@emptyTar' } },
    // annotations
    { name: 'a truncated annotations.json', names: /annotations\.json/, flags: { '--dataset-s3-uri': '@truncated' } },
    { name: 'a bbox of the wrong type', names: /bbox|annotations\[0\]/, flags: { '--dataset-s3-uri': '@bboxType' } },
    { name: 'a file name escaping the dataset', names: /outside\.png/, flags: { '--dataset-s3-uri': '@escape' } },
    { name: 'no usable training image', names: /image/i, flags: { '--dataset-s3-uri': '@empty' } },
    { name: 'no annotations.json', names: /annotations\.json/, flags: { '--dataset-s3-uri': '@noAnnotations' } },
    { name: 'images that are not a list', names: /images/, flags: { '--dataset-s3-uri': '@imagesNotArray' } },
    { name: 'a category id that is not a number', names: /categories\[0\]|category/, flags: { '--dataset-s3-uri': '@categoryType' } },
  ];

  it('has at least 40 cases', () => expect(cases.length).toBeGreaterThanOrEqual(40));

  it.each(cases.map((c, i) => ({ ...c, i })))('$name', async (c) => {
    const jobId = `bad-${c.i}`;
    const workDir = join(root, 'work', jobId);
    const termLog = join(root, `${jobId}.termination`);
    const defaults: Record<string, string | null> = {
      '--job-id': jobId,
      '--model-name': 'scripted-n',
      '--dataset-s3-uri': 's3://datasets/shapes/',
      '--config': '{"epochs": 1}',
      '--callback-url': rx.url,
      '--work-dir': workDir,
      ...c.flags,
    };
    const argv: string[] = [];
    for (const [flag, value] of Object.entries(defaults)) {
      if (value === null) continue;
      argv.push(flag, value.startsWith('@') && d[value.slice(1)] ? d[value.slice(1)]! : value);
    }
    argv.push(...(c.extra ?? []));
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (b: Buffer) => (out += b.toString()));
    stderr.on('data', (b: Buffer) => (err += b.toString()));
    const env = { ...s3.env, S3_BUCKET: 'ckpts', TERMINATION_LOG: termLog, ...SECRETS, ...c.env };
    const code = await runTrainerCli(argv, createScriptedDriver({ models: ['scripted-n'] }), { env, stdout, stderr, handleSignals: false });
    const termination = await readFile(termLog, 'utf8').catch(() => '');

    expect({ code, err }).toEqual({ code: 3, err: expect.stringMatching(/^trainer-scripted: [^\n]+\n$/) });
    expect(err).toMatch(c.names);
    const everything = out + err + termination;
    expect(everything).not.toMatch(/\n\s+at [^\n]*[:(]\d+/);
    for (const secret of [...Object.values(SECRETS), URL_PASSWORD]) expect(everything).not.toContain(secret);
    expect(JSON.parse(termination)).toMatchObject({ exit_code: 3, retriable: false });
    // Nothing outside WORK_DIR: no output prefix in S3, no ./outputs, no temp work dir, the inputs untouched.
    const client = createS3Client(s3.env);
    const listed = await client.send(new ListObjectsV2Command({ Bucket: 'ckpts', Prefix: `checkpoints/${jobId}/` }));
    client.destroy();
    expect(listed.Contents ?? []).toEqual([]);
    expect(existsSync(join('outputs', jobId))).toBe(false);
    expect((await readdir(tmpdir())).filter((n) => n.startsWith(`trainer-${jobId}-`))).toEqual([]);
    expect(await walk(inputs)).toEqual(inputsBefore);
  });
});
