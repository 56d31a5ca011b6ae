import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { ConfigError, ModelSourceUnavailableError, ModelUnavailableError, TrainerError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import { createS3Client, s3RequestTimeoutMs } from './env.js';
import { failWhenIdle, withDeadline } from './idle.js';
import { unsafePathReason } from './keys.js';
import { mapS3Error } from './errors.js';
import { withRetry } from './retry.js';
import { stageDataset } from './stage.js';
import { archiveTypeOf } from './uri.js';

/**
 * Fetches one object (model weights given as `s3://bucket/path/weights.pt`) into `destDir`, keeping its file
 * name, through a temp name so a killed run never leaves a half file. An absent object is MODEL_UNAVAILABLE.
 */
export async function fetchObject(uri: string, opts: { destDir: string; env?: NodeJS.ProcessEnv; logger: Logger; signal?: AbortSignal }): Promise<string> {
  const match = /^s3:\/\/([^/]+)\/(.+)$/i.exec(uri);
  if (!match) throw new ConfigError(`--model-name: "${uri}" is not an s3://bucket/key URI`);
  const [, bucket, key] = match as unknown as [string, string, string];
  const name = key.split('/').pop() ?? '';
  if (!name || unsafePathReason(name)) throw new ConfigError(`--model-name: "${uri}" does not end in a usable file name`);
  await mkdir(opts.destDir, { recursive: true });
  const dest = join(opts.destDir, name);
  const tmp = `${dest}.part`;
  const client = createS3Client(opts.env);
  try {
    await withRetry(
      async () => {
        const timeoutMs = s3RequestTimeoutMs(opts.env ?? process.env);
        const res = await withDeadline(timeoutMs, uri, (abortSignal) => client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal }), opts.signal);
        await pipeline(failWhenIdle(res.Body as Readable, timeoutMs, uri), createWriteStream(tmp));
      },
      { signal: opts.signal },
    );
    await rename(tmp, dest);
  } catch (err) {
    await rm(tmp, { force: true });
    const mapped = mapS3Error(err, uri);
    if (mapped instanceof ConfigError || mapped.code === 'INTERRUPTED') throw mapped;
    // The weights store being down is worth a retry of the Job; weights that are not there are the user's to fix.
    if (mapped.retriable) throw new ModelSourceUnavailableError(`--model-name: ${mapped.message}`, { cause: err });
    throw new ModelUnavailableError(`--model-name: ${mapped.message}`, { cause: err });
  } finally {
    client.destroy();
  }
  opts.logger.info({ model: uri, path: dest }, 'model weights fetched');
  return dest;
}

const WEIGHTS_FILE = /\.(pt|pth|bin|safetensors|ckpt|onnx|h5|pkl)$/i;

/**
 * A model given as `s3://`: a weights object (`…/best.pt`) is fetched as one file; a prefix (`…/model/`) or an
 * archive (`.tar`, `.tar.gz`, `.zip`) of a saved model folder (Hugging Face's `save_pretrained` output) is staged
 * the way a dataset is, and the local folder is returned. What the user must fix is MODEL_UNAVAILABLE (exit 3).
 */
export async function fetchModel(uri: string, opts: { destDir: string; env?: NodeJS.ProcessEnv; logger: Logger; signal?: AbortSignal }): Promise<string> {
  const name = uri.replace(/\/+$/, '').split('/').pop() ?? '';
  if (!uri.endsWith('/') && !archiveTypeOf(name) && WEIGHTS_FILE.test(name)) return fetchObject(uri, opts);
  try {
    const staged = await stageDataset(uri, { workDir: opts.destDir, logger: opts.logger, progressIntervalMs: 0, ...(opts.env ? { env: opts.env } : {}), ...(opts.signal ? { signal: opts.signal } : {}) });
    opts.logger.info({ model: uri, path: staged.dir, files: staged.files }, 'model folder fetched');
    return staged.dir;
  } catch (err) {
    if (err instanceof TrainerError && err.isUserError) {
      throw new ModelUnavailableError(`--model-name: ${err.message.replace(/^dataset URI: /, '')}`, { cause: err });
    }
    throw err;
  }
}
