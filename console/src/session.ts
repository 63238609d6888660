// The signed-in session every view reads: the API client and who the caller is.
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { Client, Me } from "./api";

export interface Session {
  client: Client;
  me: Me;
  signOut: (why?: string) => void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside a signed-in view");
  return session;
}

export function isAdmin(me: Me): boolean {
  return me.scopes.includes("admin");
}

export function canWrite(me: Me): boolean {
  return isAdmin(me) || me.scopes.includes("analyses:write");
}

export function canReadEvals(me: Me): boolean {
  return isAdmin(me) || me.scopes.includes("evals:read"); // evals:write alone does not read
}

export function canWriteEvals(me: Me): boolean {
  return isAdmin(me) || me.scopes.includes("evals:write");
}
