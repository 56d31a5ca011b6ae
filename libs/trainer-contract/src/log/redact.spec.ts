import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { configureRedaction } from './redact.js';
import { createLogger } from './logger.js';

const SECRETS = {
  AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  AWS_SESSION_TOKEN: 'FwoGZXIvYXdzEXAMPLESESSIONTOKEN',
  CALLBACK_TOKEN: 'cb-token-0123456789',
  CALLBACK_SECRET: 'whsec_c2VjcmV0LXNpZ25pbmcta2V5',
  MLFLOW_TRACKING_PASSWORD: 'hunter2-mlflow-pass',
  MLFLOW_TRACKING_TOKEN: 'mlflow-bearer-token-xyz',
};

function captured(pretty: boolean) {
  let out = '';
  const stream = Object.assign(
    new Writable({
      write(chunk, _e, done) {
        out += chunk.toString();
        done();
      },
    }),
    { isTTY: pretty },
  );
  return { logger: createLogger({ stream, level: 'debug' }), text: () => out };
}

describe('secret redaction', () => {
  it.each([false, true])('masks every listed secret in every field (pretty=%s)', (pretty) => {
    configureRedaction(SECRETS);
    const { logger, text } = captured(pretty);
    for (const [name, value] of Object.entries(SECRETS)) {
      logger.info({ env: { [name]: value }, nested: { deep: [`prefix-${value}-suffix`] } }, `value of ${name} is ${value}`);
    }
    logger.error({ err: new Error(`request failed with key ${SECRETS.AWS_SECRET_ACCESS_KEY}`) }, 'boom');
    logger.info({ url: 'https://alice:s3cr3t-pw@mlflow.example.com/api' }, 'tracking at https://bob:other-pw@host:5000/x');
    logger.info('presigned https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIAXX%2F2024&X-Amz-Signature=deadbeefcafe&X-Amz-Security-Token=tok123');
    logger.info({ headers: { authorization: 'Bearer abcdefghijklmnop' } }, 'sent Authorization: Basic YWxpY2U6cGFzc3dvcmQ=');
    const out = text();
    for (const value of Object.values(SECRETS)) expect(out).not.toContain(value);
    for (const leaked of ['s3cr3t-pw', 'other-pw', 'deadbeefcafe', 'tok123', 'abcdefghijklmnop', 'YWxpY2U6cGFzc3dvcmQ=', 'AKIAXX']) expect(out).not.toContain(leaked);
    expect(out).toContain('***');
    expect(out).toContain('mlflow.example.com');
    configureRedaction({});
  });

  it('writes JSON lines when not a TTY', () => {
    const { logger, text } = captured(false);
    logger.info({ epoch: 1 }, 'hello');
    const rec = JSON.parse(text().trim()) as Record<string, unknown>;
    expect(rec).toMatchObject({ level: 'info', msg: 'hello', epoch: 1 });
  });
});
