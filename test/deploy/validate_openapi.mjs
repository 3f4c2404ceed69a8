// validate_openapi.mjs MODELS_DIR LIST.json: validates each object of a
// Kubernetes List (as `kubectl apply --dry-run=client -o json` prints it)
// against the Kubernetes OpenAPI schema of its kind.
//
// The schemas come from the npm package kubernetes-models (MODELS_DIR is
// its directory under node_modules): the upstream OpenAPI definitions
// compiled into JSON-schema validators, one module per kind. They check
// types, required fields, enums and formats. They do not reject unknown
// fields (the OpenAPI schemas do not forbid them; the API server's strict
// field validation does), so a misspelt optional field passes here.
//
// Kinds without a schema in the package (custom resources such as
// PodMonitor) are listed as skipped; an object of a built-in group that
// has no module is an error, since it means a wrong apiVersion or kind.
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [modelsDir, listPath] = process.argv.slice(2);
if (!modelsDir || !listPath) {
  console.error("usage: validate_openapi.mjs MODELS_DIR LIST.json");
  process.exit(2);
}

const builtInGroup = (group) => group === "" || !group.includes(".") || group.endsWith(".k8s.io");

const list = JSON.parse(readFileSync(listPath, "utf8"));
const items = list.kind === "List" ? list.items : [list];
let failed = 0;
let checked = 0;
for (const obj of items) {
  const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : ["", obj.apiVersion];
  const name = `${obj.kind} ${obj.metadata?.namespace ? obj.metadata.namespace + "/" : ""}${obj.metadata?.name}`;
  const file = join(modelsDir, group, version, `${obj.kind}.js`);
  if (!existsSync(file)) {
    if (builtInGroup(group)) {
      console.log(`FAIL ${name}: no schema for ${obj.apiVersion} ${obj.kind}`);
      failed++;
    } else {
      console.log(`skip ${name}: custom resource, no schema in kubernetes-models`);
    }
    continue;
  }
  const mod = await import(pathToFileURL(file).href);
  const Model = mod[obj.kind] ?? mod.default;
  try {
    new Model(obj).validate();
    console.log(`ok   ${name}`);
    checked++;
  } catch (e) {
    console.log(`FAIL ${name}: ${e.message}`);
    failed++;
  }
}
console.log(`${checked} valid, ${failed} invalid`);
process.exit(failed === 0 && checked > 0 ? 0 : 1);
