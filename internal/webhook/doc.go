// Package webhook is fedcred's Kubernetes mutating admission webhook. It
// follows the azure-workload-identity v1.6.0 contract: a pod labelled
// azure.workload.identity/use: "true" gets, in every container and init
// container not listed in its skip-containers annotation, the environment
// variables AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE and
// AZURE_AUTHORITY_HOST, and a read-only mount of a projected
// service-account token volume; the values come from the annotations of the
// pod's service account and from the webhook's configuration.
//
// The package is split the way the contract is: Mutator holds the pure
// add-if-absent rules (no I/O), Handler adapts them to AdmissionReview
// (v1 and v1beta1) and answers with a JSON patch, ServiceAccountCache looks
// service accounts up in an informer cache with a direct GET on a miss,
// tlsca.Reloader serves the certificate pair, re-read when its files
// change, and Start composes them into the HTTPS server.
package webhook
