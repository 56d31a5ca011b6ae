export * from './trainer-error.js';
