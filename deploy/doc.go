// Package deploy holds fedcred's Kubernetes manifests: the server on
// PostgreSQL (server/) and the admission webhook (webhook/), applied with
// kubectl apply -k. It has no code; its test decodes every manifest
// strictly into the Kubernetes API types and checks that the pieces fit
// together (the webhook configuration's contract, Service and container
// ports, selectors, probes, Secrets and ConfigMaps).
package deploy
