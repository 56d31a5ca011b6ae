import { describe, expect, it } from '@jest/globals';
import { LIMITS, chunkBatch, keyProblem, sanitizeKey, truncateValue } from './limits.js';
import { flattenParams } from './flatten.js';
import { resolveTrackingConfig } from './config.js';

describe('limits helpers', () => {
  it('sanitizes framework keys into keys both MLflow versions accept', () => {
    for (const raw of ['metrics/mAP50(B)', 'lr/pg0', '/lead', 'a//b', './a', 'a/../b', 'x:y', 'k'.repeat(300), '']) {
      expect(keyProblem(sanitizeKey(raw))).toBeNull();
    }
    expect(sanitizeKey('metrics/mAP50-95(B)')).toBe('metrics/mAP50-95_B_');
    expect(sanitizeKey('train/box_loss')).toBe('train/box_loss');
  });

  it('truncates with a marker and never splits a surrogate pair', () => {
    const v = truncateValue('😀'.repeat(4000), LIMITS.paramValueLength);
    expect(v.length).toBeLessThanOrEqual(LIMITS.paramValueLength);
    expect(v.endsWith('...[truncated, 8000 chars]')).toBe(true);
    expect(Buffer.from(v, 'utf8').toString('utf8')).toBe(v);
    expect(truncateValue('short', 10)).toBe('short');
  });

  it('closes a chunk at the byte budget as well as the counts', () => {
    const params = Array.from({ length: 30 }, (_, i) => ({ key: `p${i}`, value: 'x'.repeat(100_000) }));
    const chunks = chunkBatch({ params, tags: [], metrics: [] });
    expect(chunks.map((c) => c.params.length)).toEqual([9, 9, 9, 3]);
    for (const c of chunks) expect(Buffer.byteLength(JSON.stringify({ run_id: 'f'.repeat(32), ...c }))).toBeLessThan(LIMITS.batchBytes);
  });
});

describe('flattenParams', () => {
  it('dots nested keys, keeps arrays as JSON and masks secret-looking keys', () => {
    expect(flattenParams({ a: { b: { c: 1 } }, d: [1, 'x'], e: null, f: undefined, api_key: 'k', password: '', t: true })).toEqual({
      'a.b.c': '1',
      d: '[1,"x"]',
      e: 'null',
      api_key: '***',
      password: '',
      t: 'true',
    });
  });
});

describe('resolveTrackingConfig', () => {
  it('moves credentials out of the URI and prefers username/password over a token, as MLflow does', () => {
    const r = resolveTrackingConfig({ MLFLOW_TRACKING_URI: 'https://u:p%40ss@mlflow.example.com/prefix/', MLFLOW_TRACKING_TOKEN: 'tok' }, 'def');
    expect(r).toEqual({
      ok: true,
      config: { trackingUri: 'https://mlflow.example.com/prefix', auth: { username: 'u', password: 'p@ss' }, experimentName: 'def', user: 'u' },
    });
    const t = resolveTrackingConfig({ MLFLOW_TRACKING_URI: 'http://h:5000', MLFLOW_TRACKING_TOKEN: 'tok', MLFLOW_EXPERIMENT_NAME: 'exp', USER: 'al' }, 'def');
    expect(t).toEqual({ ok: true, config: { trackingUri: 'http://h:5000', auth: { token: 'tok' }, experimentName: 'exp', user: 'al' } });
  });

  it('turns tracking off for unset or non-http URIs', () => {
    expect(resolveTrackingConfig({}, 'd')).toMatchObject({ ok: false, level: 'info' });
    expect(resolveTrackingConfig({ MLFLOW_TRACKING_URI: 'file:./mlruns' }, 'd')).toMatchObject({ ok: false, level: 'warn' });
    expect(resolveTrackingConfig({ MLFLOW_TRACKING_URI: 'databricks' }, 'd')).toMatchObject({ ok: false, level: 'warn' });
  });
});
