import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { resolve, relative, isAbsolute, join } from 'node:path';
import { ConfigError } from '../errors/index.js';
import { parseDatasetUri, unsafePathReason } from './index.js';

describe('parseDatasetUri', () => {
  it('recognises S3 prefixes, S3 archives, local paths and file URIs', () => {
    expect(parseDatasetUri('s3://bucket/images/train/')).toEqual({ kind: 's3-prefix', uri: 's3://bucket/images/train/', bucket: 'bucket', prefix: 'images/train/' });
    expect(parseDatasetUri('s3://bucket/images')).toMatchObject({ kind: 's3-prefix', prefix: 'images/' });
    expect(parseDatasetUri('s3://my.bucket-1/sets/ds.zip')).toMatchObject({ kind: 's3-archive', bucket: 'my.bucket-1', key: 'sets/ds.zip', archive: 'zip' });
    expect(parseDatasetUri('s3://b-1/ds.tar.gz')).toMatchObject({ kind: 's3-archive', archive: 'tar.gz' });
    expect(parseDatasetUri('s3://b-1/ds.tgz')).toMatchObject({ kind: 's3-archive', archive: 'tar.gz' });
    expect(parseDatasetUri('s3://b-1/ds.TAR')).toMatchObject({ kind: 's3-archive', archive: 'tar' });
    expect(parseDatasetUri('/data/set')).toEqual({ kind: 'local', uri: '/data/set', path: '/data/set', archive: undefined });
    expect(parseDatasetUri('rel/ds.zip')).toMatchObject({ kind: 'local', path: resolve('rel/ds.zip'), archive: 'zip' });
    expect(parseDatasetUri('file:///data/my%20set/')).toMatchObject({ kind: 'local', path: '/data/my set/' });
  });

  it.each([
    ['', 'dataset URI: empty'],
    ['s3://', 'dataset URI: missing bucket in s3://'],
    ['s3:///prefix/', 'dataset URI: missing bucket in s3:///prefix/'],
    ['s3://bucket', 'dataset URI: empty prefix in s3://bucket (a whole bucket is not a dataset; use s3://bucket/prefix/)'],
    ['s3://bucket/', 'dataset URI: empty prefix in s3://bucket/ (a whole bucket is not a dataset; use s3://bucket/prefix/)'],
    ['s3://Bad_Bucket!/x/', 'dataset URI: invalid bucket name "Bad_Bucket!" in s3://Bad_Bucket!/x/'],
    ['s3://bucket//x/', 'dataset URI: empty path segment in s3://bucket//x/'],
    ['gs://bucket/x/', 'dataset URI: unknown scheme "gs:" in gs://bucket/x/ (expected s3://, file:// or a local path)'],
    ['https://example.com/x.zip', 'dataset URI: unknown scheme "https:" in https://example.com/x.zip (expected s3://, file:// or a local path)'],
    ['file://host/x', 'dataset URI: malformed file URI: file://host/x'],
  ])('rejects %j with one line and exit 3', (uri, message) => {
    let caught: unknown;
    try {
      parseDatasetUri(uri);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).message).toBe(message);
    expect((caught as ConfigError).exitCode).toBe(3);
  });
});

describe('unsafePathReason', () => {
  it('names why a key is refused', () => {
    expect(unsafePathReason('a/b.jpg')).toBeUndefined();
    expect(unsafePathReason('ünï code/with space+x.jpg')).toBeUndefined();
    expect(unsafePathReason('dir/')).toBeUndefined();
    expect(unsafePathReason('../x')).toBe('parent directory reference');
    expect(unsafePathReason('a/../../x')).toBe('parent directory reference');
    expect(unsafePathReason('/etc/passwd')).toBe('absolute path');
    expect(unsafePathReason('a\\..\\x')).toBe('backslash');
    expect(unsafePathReason('a\0b')).toBe('control character');
    expect(unsafePathReason('C:/x')).toBe('drive letter');
    expect(unsafePathReason('a//b')).toBe('empty path segment');
    expect(unsafePathReason('./a')).toBe('current directory reference');
  });

  it('never accepts a path that resolves outside the target folder (property)', () => {
    const root = '/target/dir';
    const segment = fc.oneof(fc.constantFrom('..', '.', '', '/', '\\', 'a', 'b.jpg', '\0', 'C:', '..\\'), fc.string({ maxLength: 4 }));
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 6 }), fc.boolean(), (segs, lead) => {
        const rel = (lead ? '/' : '') + segs.join('/');
        if (unsafePathReason(rel) !== undefined) return;
        const full = join(root, rel);
        const back = relative(root, full);
        // `.. ` or `..x` is a name, not the parent: only `..` as a whole segment climbs out.
        expect(back === '..' || back.startsWith('../') || isAbsolute(back)).toBe(false);
        expect(full.startsWith(root + '/')).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});
