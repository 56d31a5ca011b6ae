/**
 * Why a relative path taken from untrusted input (an S3 key, an archive entry) may not be written under a
 * target directory, or undefined when it is safe. Safe means: relative, no `..` or `.` segment, no empty
 * segment, no backslash (a separator on Windows and in some zip tools), no NUL or other control character,
 * and no drive letter.
 */
export function unsafePathReason(rel: string): string | undefined {
  if (rel.length === 0) return 'empty path';
  // eslint-disable-next-line no-control-regex -- rejecting control characters in keys is the point
  if (/[\0-\x1f\x7f]/.test(rel)) return 'control character';
  if (rel.includes('\\')) return 'backslash';
  if (rel.startsWith('/')) return 'absolute path';
  if (/^[a-zA-Z]:/.test(rel)) return 'drive letter';
  const segments = rel.split('/');
  // A trailing slash marks a directory; it is the only empty segment allowed.
  if (segments[segments.length - 1] === '') segments.pop();
  for (const seg of segments) {
    if (seg === '..') return 'parent directory reference';
    if (seg === '.') return 'current directory reference';
    if (seg === '') return 'empty path segment';
  }
  if (Buffer.byteLength(rel) > 4096) return 'path too long';
  if (segments.some((s) => Buffer.byteLength(s) > 255)) return 'path segment too long';
  return undefined;
}

/** Quotes an untrusted name for a one-line message: control characters escaped, length bounded. */
export function quoteName(name: string): string {
  const json = JSON.stringify(name.length > 200 ? `${name.slice(0, 200)}…` : name);
  return json;
}
