import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3TestEnv } from '@trainers/trainer-contract/testing';

export const APP_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The launcher a user runs (`npx trainer-hf`); it loads the esbuild bundle in dist/. */
export const APP_BIN = join(APP_ROOT, 'bin', 'trainer-hf.mjs');
const BUNDLE = join(APP_ROOT, 'dist', 'main.js');

/** The e2e tests exercise the bundle: a missing build is a setup error, not a test failure. */
export function assertBuilt(): void {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run \`npx nx build hf\` first (the nx test target does)`);
}

/** A tiny model from a config, saved with its image processor (e2e/make_tiny_model.py): nothing is downloaded. */
export function makeTinyModel(python: string, kind: 'classify' | 'detect' | 'vit', dir: string, size = 64): string {
  execFileSync(python, [join(APP_ROOT, 'e2e', 'make_tiny_model.py'), kind, dir, String(size)], { env: { PATH: process.env['PATH'], HOME: process.env['HOME'], HF_HUB_DISABLE_TELEMETRY: '1' }, stdio: 'pipe' });
  return dir;
}

export interface AppResult {
  code: number | null;
  stdout: string;
  stderr: string;
  logs: Array<Record<string, unknown>>;
  termination?: { code: string; message: string; exit_code?: number };
}

export interface AppRun {
  child: ChildProcess;
  output(): string;
  done: Promise<AppResult>;
}

/** Starts the built app the way a Job's container runs it, with only the environment given. */
export function startApp(args: string[], env: NodeJS.ProcessEnv, cwd: string): AppRun {
  const child = spawn(process.execPath, [APP_BIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const done = new Promise<AppResult>((resolveDone, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const logs: Array<Record<string, unknown>> = [];
      for (const line of stdout.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          logs.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // a partial line is not a log record
        }
      }
      const termPath = env['TERMINATION_LOG'];
      const termination = termPath && existsSync(termPath) ? JSON.parse(readFileSync(termPath, 'utf8')) : undefined;
      resolveDone({ code, stdout, stderr, logs, ...(termination ? { termination } : {}) });
    });
  });
  return { child, done, output: () => stdout };
}

export function testS3Client(env: S3TestEnv): S3Client {
  return new S3Client({
    endpoint: env.S3_ENDPOINT,
    region: env.AWS_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
  });
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

export async function uploadDir(client: S3Client, dir: string, bucket: string, prefix: string): Promise<void> {
  for (const file of walk(dir)) {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/${relative(dir, file)}`, Body: readFileSync(file) }));
  }
}

export async function uploadFile(client: S3Client, file: string, bucket: string, key: string): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: readFileSync(file) }));
}

export async function getObject(client: S3Client, bucket: string, key: string): Promise<Buffer> {
  const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

export async function listKeys(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const res = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (res.Contents ?? []).map((o) => o.Key!).sort();
}
