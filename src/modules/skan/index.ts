import type { ModuleRegistration } from '../../http/types.ts';
import { receiverRoutes } from './receiver.ts';
import { skanRoutes } from './routes.ts';

/** SKAdNetwork and AdAttributionKit: conversion-value schema, postback receivers, stats (docs/skan.md). */
export const skanModule: ModuleRegistration = {
  api: skanRoutes,
  root: receiverRoutes,
};
