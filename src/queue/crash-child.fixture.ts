/**
 * A process for runner.test.ts to kill with SIGKILL: it runs the job queue on DATABASE_URL with one
 * task, `crashy`, that prints "started <jobId>" and never finishes.
 */
import pino from 'pino';
import { loadConfig } from '../config.ts';
import { createSql } from '../db/client.ts';
import { createServices } from '../runtime.ts';
import { startJobRunner } from './runner.ts';

const url = process.env.DATABASE_URL!;
const config = loadConfig({
  DATA_DIR: '/tmp/apprefer-crash-child',
  SECRET_KEY: 'test-secret-key-0123456789abcdef0123456789',
  DATABASE_URL: url,
  LOG_LEVEL: 'silent',
});
const services = createServices(config, createSql(url, { max: 2 }), pino({ level: 'silent' }));
await startJobRunner(services, {
  crashy: {
    run: async (_payload, { log }) => {
      process.stdout.write(`started ${String(log.bindings().jobId)}\n`);
      await new Promise(() => {});
    },
  },
});
