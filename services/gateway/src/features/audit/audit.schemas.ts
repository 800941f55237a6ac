// Public schemas of § Audit: the request and response schemas are audit-ingest's own, from
// @flow8/api; this file adds the OpenAPI description, tags, security and the gateway's errors.
import { audit as api } from '@flow8/api';
import { errors, userSecurity } from '../../schemas/common';

const tags = ['audit'];
const readers =
  'Admin, Viewer, or an API key with scope `audit:read`. The read is itself audited, with the caller and client IP.';

export const listEventsSchema = {
  summary: 'Query the audit trail',
  description: readers,
  tags,
  security: userSecurity,
  querystring: api.listEvents.querystring,
  response: { ...api.listEvents.response, ...errors() },
} as const;

export const exportSchema = {
  summary: 'Stream an export of the audit ledger (NDJSON with hashes and canonical bytes, or CSV)',
  description: `${readers} Verify an NDJSON export offline with \`pnpm audit:verify\`.`,
  tags,
  security: userSecurity,
  produces: ['application/x-ndjson', 'text/csv'],
  querystring: api.exportLedger.querystring,
  response: {
    200: { description: 'The export, streamed', type: 'string' },
    ...errors(),
  },
} as const;

export const verifySchema = {
  summary: 'Verify the company’s hash chain and checkpoints',
  description: readers,
  tags,
  security: userSecurity,
  response: { ...api.verifyLedger.response, ...errors() },
} as const;

export const checkpointsSchema = {
  summary: 'Signed checkpoints and the public keys that verify them',
  description: readers,
  tags,
  security: userSecurity,
  response: { ...api.listCheckpoints.response, ...errors() },
} as const;
