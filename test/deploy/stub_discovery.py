#!/usr/bin/env python3
"""stub_discovery.py PORTFILE: a loopback HTTP server that answers just
enough of the Kubernetes API for `kubectl apply --dry-run=client` to run
offline.

kubectl maps each object's apiVersion/kind to a resource through the API
server's discovery documents, and apply first GETs the live object to choose
between create and patch, even in client dry-run. This server serves the
discovery documents of the kinds the chart renders and answers 404 to every
other request, so kubectl takes each object as new and prints
"created (dry run)". Nothing is stored and nothing is validated here:
validation is kubectl's (client side) and test/deploy/validate_openapi.mjs's.

It binds port 0 on 127.0.0.1 and writes the port it got to PORTFILE.
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]

# group/version -> [(plural, Kind, namespaced)]
RESOURCES = {
    "v1": [("namespaces", "Namespace", False), ("services", "Service", True),
           ("configmaps", "ConfigMap", True), ("serviceaccounts", "ServiceAccount", True),
           ("pods", "Pod", True), ("secrets", "Secret", True)],
    "apps/v1": [("daemonsets", "DaemonSet", True), ("deployments", "Deployment", True)],
    "rbac.authorization.k8s.io/v1": [("clusterroles", "ClusterRole", False),
                                     ("clusterrolebindings", "ClusterRoleBinding", False),
                                     ("roles", "Role", True), ("rolebindings", "RoleBinding", True)],
    "apiextensions.k8s.io/v1": [("customresourcedefinitions", "CustomResourceDefinition", False)],
    "discovery.k8s.io/v1": [("endpointslices", "EndpointSlice", True)],
    "monitoring.coreos.com/v1": [("podmonitors", "PodMonitor", True)],
    "sluice.io/v1alpha1": [("ratelimitpolicies", "RateLimitPolicy", True)],
}


def resource_list(group_version):
    return {
        "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
        "resources": [{"name": plural, "singularName": kind.lower(), "namespaced": namespaced,
                       "kind": kind, "verbs": VERBS}
                      for plural, kind, namespaced in RESOURCES[group_version]],
    }


def documents():
    docs = {
        "/api": {"kind": "APIVersions", "versions": ["v1"],
                 "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]},
        "/api/v1": resource_list("v1"),
        "/version": {"major": "1", "minor": "33", "gitVersion": "v1.33.0-stub"},
    }
    groups = []
    for gv in RESOURCES:
        if "/" not in gv:
            continue
        group, version = gv.split("/")
        entry = {"groupVersion": gv, "version": version}
        groups.append({"name": group, "versions": [entry], "preferredVersion": entry})
        docs["/apis/" + gv] = resource_list(gv)
    docs["/apis"] = {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
    return docs


DOCS = documents()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        doc = DOCS.get(path)
        if doc is None:
            self.reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                             "reason": "NotFound", "code": 404, "message": path + " not found"})
        else:
            self.reply(200, doc)

    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(sys.argv[1], "w") as f:
        f.write(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()
