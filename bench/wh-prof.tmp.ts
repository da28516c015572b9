import pino from 'pino';
import { createSql } from '../src/db/client.ts';
import { migrate } from '../src/db/migrate.ts';
import { createOrganizationWithOwner } from '../src/modules/auth/accounts.ts';
import { createApp } from '../src/modules/apps/queries.ts';
import { AppCreate } from '../src/modules/apps/schemas.ts';
import { RC_TRIAL_CONVERTED } from '../src/modules/webhooks/fixtures.ts';
import { fromRevenueCat } from '../src/modules/webhooks/revenuecat.ts';
import { recordWebhookEvent, WebhookWriter } from '../src/modules/webhooks/recorder.ts';
import { benchDatabase } from './support.ts';
const db = await benchDatabase('whprof');
const sql = createSql(db.url, { max: 4 });
await migrate(sql, db.url);
const { organization } = await createOrganizationWithOwner(sql, { org: 'x', email: 'x@example.com', password: 'correct horse battery' });
const app = await createApp(sql, organization.id, AppCreate.parse({ name: 'F' }));
let n = 0;
const t0 = JSON.parse(RC_TRIAL_CONVERTED);
const mk = (type: string) => { n++; t0.event.id = `p-${n}`; t0.event.type = type; t0.event.subscriber_attributes.appreferId.value = `d-${n % 1000}`; return fromRevenueCat(JSON.parse(JSON.stringify(t0)), new Date()); };
const A = { id: app.id, qualifiedTrialsEnabled: false, qualifiedTrialsDelayHours: 2 };
const w = new WebhookWriter(sql, pino({ level: 'silent' }));
// warm: create the 1000 devices
await Promise.all(Array.from({ length: 1000 }, () => w.submit(A, mk('EXPIRATION'), {}, new Date())));
for (const type of ['EXPIRATION', 'RENEWAL', 'INVOICE_ISSUANCE']) {
  for (const size of [50, 200]) {
    const times: number[] = [];
    for (let r = 0; r < 5; r++) {
      const t = performance.now();
      await Promise.all(Array.from({ length: size }, () => w.submit(A, mk(type), {}, new Date())));
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    console.log(type.padEnd(18), size, 'median', times[2].toFixed(1), 'ms', Math.round(size * 1000 / times[2]), '/s');
  }
}
const single: number[] = [];
for (let r = 0; r < 20; r++) { const t = performance.now(); await recordWebhookEvent(sql, A, mk('EXPIRATION'), {}, new Date()); single.push(performance.now() - t); }
single.sort((a, b) => a - b); console.log('single tx median', single[10].toFixed(1), 'ms');
const c: number[] = [];
for (let r = 0; r < 20; r++) { const t = performance.now(); await sql`select 1`; c.push(performance.now() - t); }
c.sort((a, b) => a - b); console.log('select 1 median', c[10].toFixed(2), 'ms');
const f: number[] = [];
await sql`create table if not exists fsync_probe (x int)`;
for (let r = 0; r < 20; r++) { const t = performance.now(); await sql`insert into fsync_probe values (1)`; f.push(performance.now() - t); }
f.sort((a, b) => a - b); console.log('insert+commit median', f[10].toFixed(2), 'ms');
await sql.end(); await db.close();
