import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors/index.js';

export type ArchiveType = 'zip' | 'tar' | 'tar.gz';

export type DatasetSource =
  | { kind: 's3-prefix'; uri: string; bucket: string; prefix: string }
  | { kind: 's3-archive'; uri: string; bucket: string; key: string; archive: ArchiveType }
  /** A local path: a directory, or an archive when its name says so (the stager checks which exists). */
  | { kind: 'local'; uri: string; path: string; archive?: ArchiveType };

// S3's own rules: 3–63 characters, lowercase letters, digits, dots and hyphens. Underscores are allowed
// for legacy buckets and by MinIO, so they are accepted.
const BUCKET_RE = /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/;

export function archiveTypeOf(name: string): ArchiveType | undefined {
  const lower = name.toLowerCase();
  if (lower.endsWith('.zip')) return 'zip';
  if (lower.endsWith('.tar.gz') || lower.endsWith('.tgz')) return 'tar.gz';
  if (lower.endsWith('.tar')) return 'tar';
  return undefined;
}

/**
 * Parses a dataset URI (CONTRACT §1). Pure: it never touches the network or the disk.
 * Throws a one-line ConfigError for a malformed URI, an unknown scheme, a missing bucket or an empty prefix.
 */
export function parseDatasetUri(uri: string): DatasetSource {
  const text = (uri ?? '').trim();
  if (!text) throw new ConfigError('dataset URI: empty');
  if (text.includes('\0')) throw new ConfigError('dataset URI: contains a NUL character');
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(text)?.[1]?.toLowerCase();

  // A Windows drive letter ("C:\data") looks like a scheme; only one-letter schemes are taken as such.
  if (!scheme || (scheme.length === 1 && /^[a-z]:[\\/]/i.test(text))) {
    const path = resolve(text);
    return { kind: 'local', uri: text, path, archive: archiveTypeOf(path) };
  }

  if (scheme === 'file') {
    let path: string;
    try {
      path = fileURLToPath(new URL(text));
    } catch {
      throw new ConfigError(`dataset URI: malformed file URI: ${text}`);
    }
    if (!isAbsolute(path)) throw new ConfigError(`dataset URI: file URI must be absolute: ${text}`);
    return { kind: 'local', uri: text, path, archive: archiveTypeOf(path) };
  }

  if (scheme === 's3' || scheme === 's3a' || scheme === 's3n') {
    const m = /^[a-z0-9]+:\/\/([^/?#]*)(?:\/(.*))?$/is.exec(text);
    if (!m) throw new ConfigError(`dataset URI: malformed S3 URI (expected s3://bucket/prefix/): ${text}`);
    const bucket = m[1] ?? '';
    const rest = m[2] ?? '';
    if (!bucket) throw new ConfigError(`dataset URI: missing bucket in ${text}`);
    if (!BUCKET_RE.test(bucket) || bucket.includes('..')) {
      throw new ConfigError(`dataset URI: invalid bucket name "${bucket}" in ${text}`);
    }
    if (!rest || /^\/*$/.test(rest)) {
      throw new ConfigError(`dataset URI: empty prefix in ${text} (a whole bucket is not a dataset; use s3://${bucket}/prefix/)`);
    }
    if (rest.startsWith('/') || rest.includes('//')) {
      throw new ConfigError(`dataset URI: empty path segment in ${text}`);
    }
    const archive = rest.endsWith('/') ? undefined : archiveTypeOf(rest);
    if (archive) return { kind: 's3-archive', uri: text, bucket, key: rest, archive };
    return { kind: 's3-prefix', uri: text, bucket, prefix: rest.endsWith('/') ? rest : `${rest}/` };
  }

  throw new ConfigError(`dataset URI: unknown scheme "${scheme}:" in ${text} (expected s3://, file:// or a local path)`);
}
