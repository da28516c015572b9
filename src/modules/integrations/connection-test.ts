/**
 * Test connection (docs/spec/api.md `POST …/integrations/{network}/test`, docs/spec/external-apis.md §1.8, §2.3, §3.4):
 * a dry run with the stored settings, or candidate ones from the body laid over them. It records
 * no conversion and answers the network's own message on failure.
 */
import type { Config } from '../../config.ts';
import { googleDateTime } from './payloads.ts';
import {
  classifyGoogle,
  classifyMeta,
  classifyTiktok,
  googleHeaders,
  GoogleTokens,
  httpCall,
  OAuthFailure,
  type Outcome,
} from './clients.ts';
import type { Network } from './networks.ts';
import type { Credentials } from './store.ts';

export type TestResult = {
  ok: boolean;
  httpStatus: number | null;
  message: string;
  details: Record<string, unknown>;
};

const failed = (
  o: Outcome,
  httpStatus: number | null,
  details: Record<string, unknown>,
): TestResult => ({
  ok: false,
  httpStatus,
  message: 'error' in o ? o.error : 'failed',
  details,
});

export async function testConnection(
  config: Config,
  network: Network,
  c: Credentials,
): Promise<TestResult> {
  const http = { timeoutMs: config.forwardTimeoutSeconds * 1000 };
  try {
    if (network === 'meta') return await testMeta(config, c, http);
    if (network === 'tiktok') return await testTiktok(config, c, http);
    return await testGoogle(config, c, http);
  } catch (err) {
    if (err instanceof OAuthFailure)
      return failed(err.outcome, err.answer.status, { step: 'oauth', response: err.answer.body });
    const e = err as { name?: string; cause?: { code?: string }; message?: string };
    return {
      ok: false,
      httpStatus: null,
      message: e?.name === 'TimeoutError' ? 'timeout' : `network: ${e?.cause?.code ?? e?.message}`,
      details: {},
    };
  }
}

const missing = (fields: string[]): TestResult => ({
  ok: false,
  httpStatus: null,
  message: `missing settings: ${fields.join(', ')}`,
  details: {},
});

async function testMeta(config: Config, c: Credentials, http: { timeoutMs: number }) {
  const need = ['datasetId', 'accessToken'].filter((k) => !c[k]);
  if (need.length) return missing(need);
  const q = new URLSearchParams({
    fields: 'id,name,is_consolidated_container',
    access_token: c.accessToken!,
  });
  const a = await httpCall(
    `${config.metaGraphUrl}${encodeURIComponent(c.datasetId!)}?${q}`,
    { method: 'GET', headers: {} },
    http,
  );
  const r = classifyMeta(a, 1);
  const outcome = (r.rows as Outcome[])[0];
  if (outcome.kind !== 'ok') return failed(outcome, a.status, { response: a.body });
  const ds = a.body as { id?: string; name?: string; is_consolidated_container?: boolean };
  let events: unknown;
  if (c.testEventCode) {
    // Routed to Events Manager → Test Events: not a conversion.
    const t = await httpCall(
      `${config.metaGraphUrl}${encodeURIComponent(c.datasetId!)}/events`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          data: [
            {
              event_name: 'Lead',
              event_time: Math.floor(Date.now() / 1000),
              action_source: 'app',
              event_id: `fwd_test_${Date.now()}`,
              user_data: { external_id: ['0'.repeat(64)] },
              app_data: {
                advertiser_tracking_enabled: false,
                application_tracking_enabled: true,
                extinfo: ['a2', '', '', '', '0', '', '', '', '', '', '', '', '', '', '', ''],
              },
            },
          ],
          test_event_code: c.testEventCode,
          access_token: c.accessToken,
        }),
      },
      http,
    );
    const o = (classifyMeta(t, 1).rows as Outcome[])[0];
    if (o.kind !== 'ok') return failed(o, t.status, { step: 'test_event', response: t.body });
    events = t.body;
  }
  return {
    ok: true,
    httpStatus: a.status,
    message: `Dataset ${ds.name ?? ds.id} reachable${ds.is_consolidated_container === false ? '; not linked to an app (app events need a consolidated dataset)' : ''}`,
    details: { dataset: ds, ...(events ? { testEvent: events } : {}) },
  };
}

async function testTiktok(config: Config, c: Credentials, http: { timeoutMs: number }) {
  const need = ['pixelCode', 'accessToken', 'testEventCode'].filter((k) => !c[k]);
  if (need.length)
    return {
      ...missing(need),
      message: `missing settings: ${need.join(', ')} (TikTok has no validate-only call: the test sends one event under testEventCode)`,
    };
  const a = await httpCall(
    `${config.tiktokApiUrl}event/track/`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'access-token': c.accessToken! },
      body: JSON.stringify({
        event_source: 'web',
        event_source_id: c.pixelCode,
        test_event_code: c.testEventCode,
        data: [
          {
            event: 'Lead',
            event_time: Math.floor(Date.now() / 1000),
            event_id: `fwd_test_${Date.now()}`,
            user: { external_id: '0'.repeat(64) },
          },
        ],
      }),
    },
    http,
  );
  const o = (classifyTiktok(a, 1).rows as Outcome[])[0];
  if (o.kind !== 'ok') return failed(o, a.status, { response: a.body });
  return {
    ok: true,
    httpStatus: a.status,
    message: 'Pixel and token accepted',
    details: { response: a.body },
  };
}

async function testGoogle(config: Config, c: Credentials, http: { timeoutMs: number }) {
  const need = ['customerId', 'developerToken', 'clientId', 'clientSecret', 'refreshToken'].filter(
    (k) => !c[k],
  );
  if (need.length) return missing(need);
  // A fresh token: the test proves the refresh token, not a cached access token.
  const token = await new GoogleTokens(config.googleOAuthTokenUrl).get('test', c, http);
  const base = `${config.googleAdsApiUrl}${c.apiVersion ?? 'v22'}/customers`;
  const list = await httpCall(
    `${base}:listAccessibleCustomers`,
    { method: 'GET', headers: googleHeaders(c, token) },
    http,
  );
  if (list.status !== 200) {
    const o = (classifyGoogle(list, 1).rows as Outcome[])[0];
    return failed(o, list.status, { step: 'listAccessibleCustomers', response: list.body });
  }
  const names = ((list.body as { resourceNames?: string[] })?.resourceNames ?? []) as string[];
  const reachable =
    names.includes(`customers/${c.customerId}`) ||
    (!!c.loginCustomerId && names.includes(`customers/${c.loginCustomerId}`));
  if (!reachable)
    return {
      ok: false,
      httpStatus: list.status,
      message: `customer ${c.customerId} is not accessible with these credentials${c.loginCustomerId ? '' : ' (set loginCustomerId when access goes through a manager account)'}`,
      details: { accessibleCustomers: names },
    };
  const [event, action] = Object.entries(c.conversionActions ?? {})[0] ?? [];
  let validate: unknown = null;
  if (action) {
    const v = await httpCall(
      `${base}/${c.customerId}:uploadClickConversions`,
      {
        method: 'POST',
        headers: googleHeaders(c, token),
        body: JSON.stringify({
          conversions: [
            {
              gclid: 'apprefer-test-connection',
              conversionAction: `customers/${c.customerId}/conversionActions/${action}`,
              conversionDateTime: googleDateTime(new Date()),
              orderId: `fwd_test_${Date.now()}`,
            },
          ],
          partialFailure: true,
          validateOnly: true,
        }),
      },
      http,
    );
    if (v.status !== 200) {
      const o = (classifyGoogle(v, 1).rows as Outcome[])[0];
      return failed(o, v.status, { step: 'validateOnly', response: v.body });
    }
    validate = v.body;
  }
  return {
    ok: true,
    httpStatus: 200,
    message: action
      ? `Token refreshed, customer ${c.customerId} accessible, upload for "${event}" validated`
      : `Token refreshed, customer ${c.customerId} accessible (no conversion action to validate)`,
    details: { accessibleCustomers: names, ...(action ? { validateOnly: validate } : {}) },
  };
}
