export * from './callback-receiver.js';
export * from './scripted-driver.js';
export * from './mlflow-server.js';
export * from './s3-server.js';
export * from './shapes-dataset.js';
export * from './failure.js';
export * from './driver-run.js';
