import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Me } from './api.ts';

export type Session = {
  me: Me;
  canEdit: boolean;
  refresh: () => Promise<void>;
  signOut: () => Promise<void>;
};
export const SessionContext = createContext<Session | null>(null);

/** The signed-in caller; pages under the shell always have one. */
export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside the signed-in shell');
  return s;
}

/** Viewers (and read-only access) see no create or edit controls; the API refuses them anyway. */
export const canEdit = (me: Me) => me.permission === 'full' && me.user?.role !== 'viewer';
