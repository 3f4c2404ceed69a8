// Drives sluiced's service-graph page in headless Chromium (Debian's
// chromium, through playwright-core from npm) and waits until it shows the
// expected nodes and edges carrying traffic. Used by scripts/demo.sh (step
// 5c, so by the Demo e2e test too).
//
//   node graph_check.mjs URL --node NAME... [--http-edge] [--tcp-edge] [--rtt-on SERVICE]... [--screenshot FILE]
//                        [--timeout-ms N]
//
// --rtt-on: that service's node shows the kernel's median RTT.
//
// Prints what the page shows as JSON; exits 0 when every expectation held
// before the timeout, 1 otherwise, 2 on bad arguments or no browser.
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../../.tools/browser/node_modules/"));

const args = process.argv.slice(2);
const url = args.shift();
const want = { nodes: [], rtt: [], http: false, tcp: false, screenshot: "", timeout: 20000 };
while (args.length) {
  const a = args.shift();
  if (a === "--node") want.nodes.push(args.shift());
  else if (a === "--http-edge") want.http = true;
  else if (a === "--tcp-edge") want.tcp = true;
  else if (a === "--rtt-on") want.rtt.push(args.shift());
  else if (a === "--screenshot") want.screenshot = args.shift();
  else if (a === "--timeout-ms") want.timeout = Number(args.shift());
  else { console.error(`graph_check: unknown argument ${a}`); process.exit(2); }
}
if (!url) { console.error("graph_check: URL missing"); process.exit(2); }

let chromium;
try {
  ({ chromium } = require("playwright-core"));
} catch (e) {
  console.error("graph_check: playwright-core missing (scripts/setup.sh installs it): " + e.message);
  process.exit(2);
}
const executablePath = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find(existsSync);
if (!executablePath) { console.error("graph_check: no chromium (scripts/setup.sh installs it)"); process.exit(2); }

const browser = await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-gpu"] });
let seen = {};
let ok = false;
try {
  const page = await browser.newPage({ viewport: { width: 1500, height: 600 } });
  await page.goto(url);
  const deadline = Date.now() + want.timeout;
  while (Date.now() < deadline) {
    seen = await page.evaluate(() => ({
      status: document.getElementById("status").textContent,
      nodes: [...document.querySelectorAll("[data-node]")].map(n => n.getAttribute("data-node")),
      edges: [...document.querySelectorAll("[data-edge]")].map(e => ({
        edge: e.getAttribute("data-edge"), protocol: e.getAttribute("data-protocol"),
        rate: Number(e.getAttribute("data-rate")), label: e.textContent })),
      badges: [...document.querySelectorAll("[data-badge]")].map(b => b.getAttribute("data-badge")),
      rtt: Object.fromEntries([...document.querySelectorAll("[data-node]")].filter(n => n.querySelector("[data-rtt]"))
        .map(n => [n.getAttribute("data-node"), Number(n.querySelector("[data-rtt]").getAttribute("data-rtt"))])),
    }));
    const busy = p => seen.edges.some(e => e.protocol === p && e.rate > 0);
    ok = want.nodes.every(n => seen.nodes.includes(n)) && (!want.http || busy("http")) && (!want.tcp || busy("tcp")) &&
      want.rtt.every(n => seen.rtt[n] > 0);
    if (ok) break;
    await page.waitForTimeout(500);
  }
  if (want.screenshot) await page.screenshot({ path: want.screenshot, fullPage: true });
} finally {
  await browser.close();
}
console.log(JSON.stringify(seen, null, 1));
process.exit(ok ? 0 : 1);
