export { createKubeflowStatusReporter, statusEndpoint, trainerStatusBody, STATUS_ENV, TRAINJOB_NAME_ENV, NAMESPACE_ENV, type KubeflowStatusReporter, type TrainerStatusUpdate } from './status.js';
