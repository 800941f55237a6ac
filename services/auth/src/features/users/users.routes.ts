import type { FastifyInstance } from 'fastify';
import { identity } from '@flow8/api';
import type { Guards } from '../../guards';
import { callerOf, type Role } from '../../principal';
import type { UserService } from './users.service';

export function userRoutes(app: FastifyInstance, deps: { users: UserService; guards: Guards }): void {
  const { users } = deps;
  const onRequest = deps.guards.identity;

  app.post('/v1/users', { schema: identity.createUser, onRequest }, async (req, reply) => {
    const body = req.body as { email: string; password: string; role: Role };
    return reply.code(201).send(await users.create(callerOf(req), body));
  });

  app.get('/v1/users', { schema: identity.listUsers, onRequest }, async (req) => {
    const q = req.query as { limit: number; cursor?: string };
    return users.list(callerOf(req), q);
  });

  app.get('/v1/users/:id', { schema: identity.getUser, onRequest }, async (req) => {
    const { id } = req.params as { id: string };
    return users.get(callerOf(req), id);
  });

  app.patch('/v1/users/:id', { schema: identity.updateUser, onRequest }, async (req) => {
    const { id } = req.params as { id: string };
    return users.update(callerOf(req), id, req.body as { email?: string; role?: Role });
  });

  app.delete('/v1/users/:id', { schema: identity.removeUser, onRequest }, async (req, reply) => {
    const { id } = req.params as { id: string };
    await users.remove(callerOf(req), id);
    return reply.code(204).send();
  });
}
