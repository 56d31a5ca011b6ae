import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3TestEnv } from '@trainers/trainer-contract/testing';

export const APP_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const APP_BIN = join(APP_ROOT, 'bin', 'trainer-timm.mjs');
const BUNDLE = join(APP_ROOT, 'dist', 'main.js');

export function assertBuilt(): void {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run \`npx nx build timm\` first (the nx test target does)`);
}

export interface AppResult {
  code: number | null;
  stdout: string;
  stderr: string;
  termination?: { code: string; message: string; exit_code?: number };
}

export interface AppRun {
  child: ChildProcess;
  output(): string;
  done: Promise<AppResult>;
}

/** Only what is set here reaches the app, as a pod gets only its spec's variables. */
export function appEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { PATH: process.env['PATH'], HOME: process.env['HOME'], LANG: 'C.UTF-8', PYTHONDONTWRITEBYTECODE: '1', ...extra };
}

export function startApp(args: string[], env: NodeJS.ProcessEnv, cwd: string): AppRun {
  const child = spawn(process.execPath, [APP_BIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const done = new Promise<AppResult>((done, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const t = env['TERMINATION_LOG'];
      const termination = t && existsSync(t) ? JSON.parse(readFileSync(t, 'utf8')) : undefined;
      done({ code, stdout, stderr, ...(termination ? { termination } : {}) });
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
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

export async function uploadDir(client: S3Client, dir: string, bucket: string, prefix: string): Promise<void> {
  for (const file of walk(dir)) await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/${relative(dir, file)}`, Body: readFileSync(file) }));
}

export async function getObject(client: S3Client, bucket: string, key: string): Promise<Buffer> {
  const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

export async function listKeys(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const res = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (res.Contents ?? []).map((o) => o.Key!).sort();
}

/** results.csv (timm's summary.csv columns) as numbers. */
export function readResultsCsv(path: string): Array<Record<string, number>> {
  const [header, ...rows] = readFileSync(path, 'utf8').trim().split('\n');
  const keys = header!.split(',');
  return rows.map((row) => Object.fromEntries(row.split(',').map((v, i) => [keys[i]!, Number(v)])));
}

/** Runs Python code in the trainer's interpreter and parses its last stdout line as JSON. */
export function pythonJson(python: string, code: string, args: string[] = []): unknown {
  const out = execFileSync(python, ['-c', code, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return JSON.parse(out.trim().split('\n').pop()!);
}
