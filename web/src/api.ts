/**
 * The dashboard talks to the public /api/v1 only, as any client would: the session cookie
 * (HttpOnly, set at login) plus the X-CSRF-Token header on every change. The CSRF token is
 * returned once at login, so it is kept in localStorage for the other tabs and reloads.
 */
const CSRF_KEY = 'apprefer.csrf';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: { path: string; message: string }[],
  ) {
    super(message);
  }
}

export const csrf = {
  get: () => localStorage.getItem(CSRF_KEY),
  set: (token: string) => localStorage.setItem(CSRF_KEY, token),
  clear: () => localStorage.removeItem(CSRF_KEY),
};

/** Called when a request finds the session gone (401): the app shows the sign-in page. */
let onSignedOut: () => void = () => {};
export const whenSignedOut = (fn: () => void) => {
  onSignedOut = fn;
};

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-csrf-token'] = csrf.get() ?? '';
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError(
      0,
      'network',
      'The server cannot be reached. Check your connection and retry.',
    );
  }
  if (res.status === 204) return undefined as T;
  const json = await res.json().catch(() => null);
  if (!res.ok) {
    const e = json?.error;
    if (res.status === 401 && !path.startsWith('/auth/')) onSignedOut();
    throw new ApiError(
      res.status,
      e?.code ?? 'error',
      e?.message ?? `Request failed (${res.status})`,
      e?.details,
    );
  }
  return json as T;
}

export const get = <T>(path: string) => api<T>('GET', path);
export const post = <T>(path: string, body?: unknown) => api<T>('POST', path, body ?? {});
export const patch = <T>(path: string, body: unknown) => api<T>('PATCH', path, body);
export const del = <T>(path: string) => api<T>('DELETE', path);
export const put = <T>(path: string, body: unknown) => api<T>('PUT', path, body);

/** `?a=1&b=2` from an object; empty and null values are left out, arrays repeat the key. */
export function query(
  params: Record<string, string | number | boolean | null | undefined | string[]>,
): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === '') continue;
    for (const one of [v].flat()) q.append(k, String(one));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

// The resources the dashboard reads (docs/spec/api.md); only the fields it uses.
export type Money = { amount: number; currency: string };
export type Kpis = {
  clicks: number;
  installs: number;
  attributedInstalls: number;
  organicInstalls: number;
  clickToInstallRate: number | null;
  events: number;
  trials: number;
  qualifiedTrials: number;
  purchases: number;
  revenue: Money;
  revenueByCurrency: Money[];
  payingUsers: number;
  arpu: Money | null;
};
export type Me = {
  organization: { id: string; name: string };
  permission: 'full' | 'read_only' | 'analytics';
  user: { id: string; email: string; role: Role } | null;
};
export type App = {
  id: string;
  name: string;
  ios: { bundleId: string; appStoreId: string | null; storeUrl: string | null } | null;
  android: { packageName: string; storeUrl: string | null } | null;
  webUrl: string | null;
  timezone: string;
  currency: string;
  sdkEnabled: boolean;
  sdkKeys: { live: string; test: string };
  attributionSettings: AttributionSettings;
  qualifiedTrials: { enabled: boolean; delayHours: number };
  archived: boolean;
};
export type AttributionSettings = {
  clickWindowHours: number;
  probabilisticEnabled: boolean;
  probabilisticWindowHours: number;
  reattributionWindowDays: number;
};
export type Role = 'owner' | 'admin' | 'member' | 'viewer';
export type Member = {
  userId: string;
  email: string;
  role: Role;
  you: boolean;
  joinedAt: string;
  lastSeenAt: string | null;
};
export type Invitation = {
  id: string;
  email: string;
  role: Role;
  invitedBy: string | null;
  createdAt: string;
  expiresAt: string;
};
export type SecretState = { set: boolean; last4: string | null };
export type Integration = {
  network: 'meta' | 'google' | 'tiktok';
  enabled: boolean;
  status: 'not_configured' | 'ok' | 'failing' | 'unauthorized';
  settings: Record<string, string | null | SecretState | Record<string, string>>;
  eventMapping: Record<string, string | null>;
  forwardClientPurchases: boolean;
  lastDeliveryAt: string | null;
  lastError: string | null;
  updatedAt: string | null;
};
export type Delivery = {
  id: string;
  network: string;
  eventId: string;
  eventName: string;
  networkEventName: string | null;
  status: 'pending' | 'retrying' | 'delivered' | 'failed' | 'skipped';
  attempts: number;
  httpStatus: number | null;
  error: string | null;
  nextAttemptAt: string | null;
  request: unknown;
  response: unknown;
  createdAt: string;
  deliveredAt: string | null;
};
export type Link = {
  id: string;
  name: string;
  network: string;
  campaignName: string | null;
  urls: { click: string; landing: string; parameters: string };
  archived: boolean;
};
export type EventRow = {
  id: string;
  eventName: string;
  deviceId: string | null;
  userId: string | null;
  source: string;
  environment: string;
  revenue: Money | null;
  properties: Record<string, unknown>;
  attribution: { network: string; campaign: string | null; matchType: string } | null;
  occurredAt: string;
  receivedAt: string;
  flags: string[];
  forwarding: {
    network: string;
    status: Delivery['status'];
    networkEventName: string | null;
    error: string | null;
  }[];
};
export type RevenueCatWebhook = {
  network: 'revenuecat';
  enabled: boolean;
  webhookUrl: string;
  authorization: SecretState & { value?: string };
};
export type SuperwallWebhook = {
  network: 'superwall';
  enabled: boolean;
  webhookUrl: string;
  signingSecret: SecretState;
};
export type QualifiedTrial = {
  id: string;
  deviceId: string | null;
  userId: string | null;
  productId: string | null;
  source: 'revenuecat' | 'superwall';
  status: 'held' | 'qualified' | 'disqualified' | 'forwarded';
  startedAt: string;
  dueAt: string;
  decidedAt: string | null;
  reason: string | null;
  attribution: { network: string | null; campaign: string | null };
};
export type ApiKey = {
  id: string;
  name: string;
  permission: string;
  last4: string;
  appIds: string[] | null;
  createdAt: string;
  lastUsedAt: string | null;
};
export type List<T> = { data: T[]; meta: { hasMore: boolean; cursor: string | null } };
export type One<T> = { data: T };
