// Route schemas. The public routes' schemas are the contract from @flow8/api (the gateway
// validates with the same ones): validation of everything that comes in, and response schemas so
// nothing leaves that the contract does not name. The on-demand checkpoint route is internal.
import { audit as api } from '@flow8/api';

const errorResponse = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'requestId'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, requestId: { type: 'string' } },
    },
  },
} as const;

export const listEventsSchema = {
  querystring: api.listEvents.querystring,
  response: { ...api.listEvents.response, 400: errorResponse },
} as const;

export const exportSchema = api.exportLedger;

export const verifySchema = api.verifyLedger;

export const listCheckpointsSchema = api.listCheckpoints;

export const createCheckpointSchema = {
  response: { 201: api.checkpointView, 200: { type: 'object', properties: { created: { type: 'boolean' } } } },
} as const;
