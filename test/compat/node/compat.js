// fedcred compatibility scenario for the Node SDK from npm: @azure/identity
// (WorkloadIdentityCredential, DefaultAzureCredential), @azure/arm-msi and
// @azure/keyvault-secrets.
//
// Run by test/compat/node_test.go. Each step prints one JSON line
// {"step", "ok", "error", "detail"}; the Go test decides what must pass. The
// environment carries the workload-identity variables, NODE_EXTRA_CA_CERTS,
// HTTPS_PROXY/NO_PROXY (the login proxy) and the FEDCRED_* fixture values.
"use strict";

const fs = require("node:fs");
const { WorkloadIdentityCredential, DefaultAzureCredential, ClientAssertionCredential } = require("@azure/identity");
const { ManagedServiceIdentityClient } = require("@azure/arm-msi");
const { SecretClient } = require("@azure/keyvault-secrets");

const ARM_SCOPE = "https://management.core.windows.net//.default";
const VAULT_SCOPE = "https://vault.azure.net/.default";
const env = process.env;

async function step(name, fn) {
  try {
    const detail = await fn();
    console.log(JSON.stringify({ step: name, ok: true, detail: detail === undefined ? null : detail }));
  } catch (e) {
    console.log(JSON.stringify({ step: name, ok: false, error: `${e.name}: ${e.message}` }));
    console.error(e);
  }
}

async function main() {
  const server = env.FEDCRED_URL;
  const tenant = env.AZURE_TENANT_ID;
  const clientId = env.AZURE_CLIENT_ID;

  // Configured: instance discovery off, everything else from the environment.
  const wi = new WorkloadIdentityCredential({ authorityHost: server, disableInstanceDiscovery: true });
  await step("workload_identity_credential", async () => (await wi.getToken(ARM_SCOPE)).token.length > 0);
  const dac = new DefaultAzureCredential({ disableInstanceDiscovery: true });
  await step("default_credential", async () => (await dac.getToken(VAULT_SCOPE)).expiresOnTimestamp > Date.now());
  // Unmodified: msal-node asks login.microsoftonline.com for instance
  // discovery; the login proxy answers it with fedcred.
  const plain = new DefaultAzureCredential();
  await step("default_credential_unmodified", async () => (await plain.getToken(ARM_SCOPE)).token.length > 0);

  // Management, as the identity (Managed Identity Contributor on the group).
  const rg = env.FEDCRED_RG;
  const msi = new ManagedServiceIdentityClient(wi, env.FEDCRED_SUBSCRIPTION_ID, {
    endpoint: server, credentialScopes: [ARM_SCOPE],
  });
  await step("identity_create", async () =>
    (await msi.userAssignedIdentities.createOrUpdate(rg, "node-made", { location: "eastus", tags: { "made-by": "node" } })).clientId);
  await step("identity_get", async () => (await msi.userAssignedIdentities.get(rg, "node-made")).principalId);
  await step("identity_list", async () => {
    const names = [];
    for await (const id of msi.userAssignedIdentities.listByResourceGroup(rg)) names.push(id.name);
    return names.sort();
  });
  const fic = (subject) => ({ issuer: env.FEDCRED_ISSUER, subject, audiences: ["api://AzureADTokenExchange"] });
  await step("fic_create", async () =>
    (await msi.federatedIdentityCredentials.createOrUpdate(rg, "node-made", "node-fic", fic("system:serviceaccount:node:made"))).subject);
  await step("fic_get", async () => (await msi.federatedIdentityCredentials.get(rg, "node-made", "node-fic")).issuer);
  for (let i = 0; i < 3; i++) {
    await msi.federatedIdentityCredentials.createOrUpdate(rg, "node-made", `node-fic-${i}`, fic(`system:serviceaccount:node:x${i}`));
  }
  await step("fic_list_paged", async () => {
    const names = [];
    let pages = 0;
    for await (const page of msi.federatedIdentityCredentials.list(rg, "node-made", { top: 2 }).byPage()) {
      pages++;
      for (const f of page) names.push(f.name);
    }
    return { pages, names: names.sort() };
  });
  await step("fic_delete", async () => { await msi.federatedIdentityCredentials.delete(rg, "node-made", "node-fic"); });
  await step("fic_get_deleted", async () => {
    try {
      await msi.federatedIdentityCredentials.get(rg, "node-made", "node-fic");
    } catch (e) {
      return { status: e.statusCode, code: e.code };
    }
    throw new Error("the deleted federated credential is still there");
  });
  await step("identity_delete", async () => { await msi.userAssignedIdentities.delete(rg, "node-made"); });

  // Key Vault: the path-based vault URL with the challenge check off, then
  // the vault's own host (through the login proxy) with the check on.
  const name = env.FEDCRED_SECRET_NAME;
  const kv = new SecretClient(env.FEDCRED_VAULT_URL, wi, { disableChallengeResourceVerification: true });
  await step("keyvault_get", async () => (await kv.getSecret(name)).value);
  const kvHost = new SecretClient(env.FEDCRED_VAULT_HOST_URL, plain);
  await step("keyvault_get_by_host", async () => (await kvHost.getSecret(name)).value);

  // A token for another service account: AADSTS700213.
  const wrong = new ClientAssertionCredential(tenant, clientId, async () => fs.readFileSync(env.FEDCRED_WRONG_TOKEN_FILE, "utf8").trim(),
    { authorityHost: server, disableInstanceDiscovery: true });
  await step("wrong_fic", async () => { await wrong.getToken(ARM_SCOPE); });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
