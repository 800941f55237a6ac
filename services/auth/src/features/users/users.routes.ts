import type { FastifyInstance } from 'fastify';
import { requireServiceIdentity } from '@flow8/http';
import { callerOf, type Role } from '../../principal';
import { createUserSchema, getUserSchema, listUsersSchema } from './users.schemas';
import type { UserService } from './users.service';

export function userRoutes(
  app: FastifyInstance,
  deps: { users: UserService; allowedCallers: readonly string[] },
): void {
  const { users } = deps;
  // onRequest, not preHandler: the caller is checked before its body is even parsed or validated.
  const onRequest = requireServiceIdentity(deps.allowedCallers);

  app.post('/v1/users', { schema: createUserSchema, onRequest }, async (req, reply) => {
    const body = req.body as { email: string; password: string; role: Role };
    return reply.code(201).send(await users.create(callerOf(req), body));
  });

  app.get('/v1/users', { schema: listUsersSchema, onRequest }, async (req) => {
    const q = req.query as { limit: number; cursor?: string };
    return users.list(callerOf(req), q);
  });

  app.get('/v1/users/:id', { schema: getUserSchema, onRequest }, async (req) => {
    const { id } = req.params as { id: string };
    return users.get(callerOf(req), id);
  });
}
