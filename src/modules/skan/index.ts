import type { ModuleRegistration } from '../../http/types.ts';
import { skanPaths } from './openapi.ts';
import { receiverRoutes } from './receiver.ts';
import { skanRoutes } from './routes.ts';
import { sdkSkanRoutes } from './sdk-routes.ts';

/** SKAdNetwork and AdAttributionKit: conversion-value schema, postback receivers, stats (docs/skan.md). */
export const skanModule: ModuleRegistration = {
  api: skanRoutes,
  documentedPaths: skanPaths,
  root: async (app, services) => {
    await app.register(async (scope) => receiverRoutes(scope, services));
    await app.register(async (scope) => sdkSkanRoutes(scope, services));
  },
};
