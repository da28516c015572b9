import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config.ts';
import { ApiError } from './http/errors.ts';
import { createLogger, migrateAsOwner, openDatabase, serve } from './runtime.ts';
import { createOrganizationWithOwner, findOrganization } from './modules/auth/accounts.ts';
import {
  createApiKey,
  listApiKeys,
  revokeApiKey,
  toApiKeyResource,
} from './modules/api-keys/keys.ts';
import type { Permission } from './modules/auth/principal.ts';

const USAGE = `Usage: apprefer <command>

  serve                                   start the server (and the embedded database)
  migrate                                 apply database migrations
  setup --org NAME --email E --password P [--json]
                                          create an organization and its owner
  api-keys create --org ORG --name N --permission full|read_only|analytics [--app APP_ID]... [--json]
  api-keys list --org ORG [--json]
  api-keys revoke KEY_ID --org ORG [--json]

ORG is an organization id or name. Configuration comes from the environment (see README).`;

class UsageError extends Error {}

function need(v: string | undefined, flag: string): string {
  if (!v) throw new UsageError(`missing --${flag}`);
  return v;
}

async function main(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      org: { type: 'string' },
      email: { type: 'string' },
      password: { type: 'string' },
      name: { type: 'string' },
      permission: { type: 'string' },
      app: { type: 'string', multiple: true },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, sub, arg] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return;
  }

  const config = loadConfig();
  if (command === 'serve') {
    await serve(config);
    return;
  }

  const log = createLogger(
    { ...config, logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel },
    2,
  );
  const db = await openDatabase(config, log);
  const out = (json: unknown, text: string) =>
    console.log(values.json ? JSON.stringify(json) : text);
  try {
    await migrateAsOwner(config, db, log);
    const org = async () => {
      const found = await findOrganization(db.sql, need(values.org, 'org'));
      if (!found) throw new UsageError(`no organization "${values.org}"`);
      return found;
    };
    if (command === 'migrate') {
      console.log('migrations are up to date');
    } else if (command === 'setup') {
      const password = need(values.password, 'password');
      if (password.length < 10) throw new UsageError('--password must be at least 10 characters');
      const r = await createOrganizationWithOwner(db.sql, {
        org: need(values.org, 'org'),
        email: need(values.email, 'email'),
        password,
      });
      out(
        { organization: { id: r.organization.id, name: r.organization.name }, userId: r.userId },
        `organization ${r.organization.name} (${r.organization.id}) created; owner ${values.email}`,
      );
    } else if (command === 'api-keys' && sub === 'create') {
      const permission = need(values.permission, 'permission');
      if (!['full', 'read_only', 'analytics'].includes(permission))
        throw new UsageError('--permission must be full, read_only or analytics');
      const o = await org();
      const { key, row } = await createApiKey(db.sql, {
        orgId: o.id,
        name: need(values.name, 'name'),
        permission: permission as Permission,
        appIds: values.app?.length ? values.app : null,
        createdBy: null,
      });
      out(
        { id: row.id, key, permission: row.permission },
        `${key}\n(id ${row.id}, ${row.permission}; shown once: store it now)`,
      );
    } else if (command === 'api-keys' && sub === 'list') {
      const o = await org();
      const rows = await listApiKeys(db.sql, o.id, { limit: 10_000, afterSeq: null });
      const keys = rows.map(toApiKeyResource);
      out(
        keys,
        keys
          .map(
            (k) =>
              `${k.id}\t${k.permission}\t…${k.last4}\t${k.name}\tlast used ${k.lastUsedAt ?? 'never'}`,
          )
          .join('\n') || '(no keys)',
      );
    } else if (command === 'api-keys' && sub === 'revoke') {
      const o = await org();
      const k = toApiKeyResource(
        await revokeApiKey(db.sql, o.id, need(arg, 'KEY_ID (positional)')),
      );
      out(k, `revoked ${k.id}`);
    } else {
      throw new UsageError(`unknown command "${positionals.join(' ')}"`);
    }
  } finally {
    await db.close();
    log.flush();
  }
}

main(process.argv.slice(2)).catch((err) => {
  if (err instanceof UsageError) console.error(`apprefer: ${err.message}\n\n${USAGE}`);
  else if (err instanceof ConfigError || err instanceof ApiError)
    console.error(`apprefer: ${err.message}`);
  else console.error(`apprefer: ${err instanceof Error ? err.stack : String(err)}`);
  process.exitCode = 1;
});
