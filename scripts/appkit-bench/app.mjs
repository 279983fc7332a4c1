// AppKit 0.38.1 with only the server and jobs plugins, on loopback: the peer that
// `cargo bench -p polysync-server --bench vs_appkit` measures beside Polysync's server
// (recipe: ../../../shared/reference/peers.md §1.10 in the project notes).
//
// Job keys come from the environment exactly as the seed: DATABRICKS_JOB_<NAME>=<job id>
// (AppKit's own discovery); DATABRICKS_HOST/DATABRICKS_TOKEN point it at the emulator.
// APPKIT_PORT: port to listen on. POLL_MS: the stream poll interval (AppKit's default 5000).
// APPKIT_CACHE=off turns AppKit's 60 s read cache off (POST …/run and streams never use it).
import { createApp, server, jobs } from "@databricks/appkit";

const pollIntervalMs = Number(process.env.POLL_MS || 5000);

await createApp({
  plugins: [
    server({ host: "127.0.0.1", port: Number(process.env.APPKIT_PORT || 18200) }),
    jobs({ pollIntervalMs }),
  ],
  disableInternalTelemetry: true,
  ...(process.env.APPKIT_CACHE === "off" ? { cache: { enabled: false } } : {}),
});
