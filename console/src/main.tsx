// The console's shell: configuration, sign-in, navigation and the view for the current route.
import { render } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { ApiError, Client, type Me } from "./api";
import { completeOidc, currentCredential, forget, type Credential } from "./auth";
import { loadConfig, type ConsoleConfig } from "./config";
import { href, useRoute } from "./router";
import { SessionContext, canReadEvals, isAdmin, useSession, type Session } from "./session";
import { ErrorBox, Loading } from "./ui";
import { AnalysesView } from "./views/Analyses";
import { AnalysisView } from "./views/Analysis";
import { AuditView } from "./views/Audit";
import { EvalsView } from "./views/Evals";
import { GatewayView } from "./views/Gateway";
import { KeysView } from "./views/Keys";
import { SignIn } from "./views/SignIn";
import { SubmitView } from "./views/Submit";
import { UsageView } from "./views/Usage";
import { WorkspacesView } from "./views/Workspaces";
import "./styles.css";

function App() {
  const [config, setConfig] = useState<ConsoleConfig | null>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const [credential, setCredential] = useState<Credential | null>(currentCredential);
  const [me, setMe] = useState<Me | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    loadConfig()
      .then(async (loaded) => {
        setConfig(loaded);
        if (loaded.oidc) {
          try {
            const back = await completeOidc(loaded.oidc);
            if (back) setCredential(back);
          } catch (error) {
            setNotice((error as Error).message); // back on the sign-in page, saying why
          }
        }
      })
      .catch(setFailure);
  }, []);

  const signOut = (why?: string) => {
    forget();
    setCredential(null);
    setMe(null);
    setNotice(why ?? null);
  };

  const client = useMemo(
    () =>
      config &&
      new Client(
        config.api_url,
        () => credential?.token ?? null,
        (problem) => signOut(`Signed out: ${problem.detail ?? problem.title}`),
      ),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [config, credential],
  );

  useEffect(() => {
    if (!client || !credential) return;
    client.get<Me>("/v1/me").then(setMe, (error) => {
      if (!(error instanceof ApiError && error.status === 401)) setFailure(error);
    });
  }, [client, credential]);

  if (failure) return <main class="page"><ErrorBox error={failure} retry={() => location.reload()} /></main>;
  if (!config || !client) return <main class="page"><Loading what="the console" /></main>;
  if (!credential) {
    return (
      <SignIn
        config={config}
        notice={notice}
        onSignedIn={(signed) => {
          setNotice(null);
          setCredential(signed);
        }}
      />
    );
  }
  if (!me) return <main class="page"><Loading what="your account" /></main>;
  const session: Session = { client, me, signOut };
  return (
    <SessionContext.Provider value={session}>
      <Shell />
    </SessionContext.Provider>
  );
}

const SECTIONS: { path: string; label: string; admin?: boolean; evals?: boolean }[] = [
  { path: "analyses", label: "Analyses" },
  { path: "evals", label: "Evals", evals: true },
  { path: "gateway", label: "Gateway", admin: true },
  { path: "usage", label: "Usage", admin: true },
  { path: "audit", label: "Audit", admin: true },
  { path: "keys", label: "Keys", admin: true },
  { path: "workspaces", label: "Workspaces" },
];

function Shell() {
  const route = useRoute();
  const { me, signOut } = useSession();
  const [section = "analyses", id] = route.path;
  const visible = SECTIONS.filter((s) => (!s.admin || isAdmin(me)) && (!s.evals || canReadEvals(me)));
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href={href("analyses")}>
          Assay
        </a>
        <nav aria-label="Sections">
          <ul>
            {visible.map((s) => (
              <li key={s.path}>
                <a href={href(s.path)} aria-current={section === s.path ? "page" : undefined}>
                  {s.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span title={me.actor}>{me.tenant_name}</span>
          <button type="button" onClick={() => signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main class="page" id="main" tabIndex={-1}>
        {pick(section, id, route.query, route.path.slice(1))}
      </main>
    </>
  );
}

function pick(section: string, id: string | undefined, query: URLSearchParams, rest: string[]) {
  switch (section) {
    case "analyses":
      if (id === "new") return <SubmitView />;
      return id ? <AnalysisView id={id} /> : <AnalysesView query={query} />;
    case "evals":
      return <EvalsView path={rest} query={query} />;
    case "gateway":
      return <GatewayView />;
    case "usage":
      return <UsageView />;
    case "audit":
      return <AuditView query={query} />;
    case "keys":
      return <KeysView />;
    case "workspaces":
      return <WorkspacesView />;
    default:
      return <ErrorBox error={new ApiError({ title: "Not found", status: 404, detail: `no page #/${section}` })} />;
  }
}

const root = document.getElementById("app")!;
root.replaceChildren(); // the static "Loading" placeholder
render(<App />, root);
