import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, appBody, createOrg, startTestServer, type Org, type TestServer } from '../../../test/helpers.ts';

let t: TestServer;
let org: Org;
let key: string;
beforeAll(async () => {
  t = await startTestServer();
  org = await createOrg(t);
  key = await org.key('full');
});
afterAll(() => t?.close());

describe('Apps API', () => {
  it('creates an app with SDK keys and default store URLs', async () => {
    const r = await api(t, 'POST', '/api/v1/apps', { auth: key, body: appBody() });
    expect(r.status).toBe(201);
    expect(r.body.data.id).toMatch(/^app_[0-9a-f]{11}$/);
    expect(r.body.data.sdkKeys.live).toMatch(/^pk_live_[0-9a-f]{24}$/);
    expect(r.body.data.ios.storeUrl).toBe('https://apps.apple.com/app/id1234567890');
    expect(r.headers.get('x-request-id')).toMatch(/^req_/);
  });
});
