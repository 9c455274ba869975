// An unmodified Node program, as people write it for Entra Workload ID:
// DefaultAzureCredential with no options, the public management endpoint and
// the vault's own host. Run by test/compat/emulate_test.go under
// `fedcred run --emulate-login-host`, which routes the public hosts to
// fedcred. Each step prints one JSON line {"step", "ok", "error", "detail"}.
"use strict";

const { DefaultAzureCredential } = require("@azure/identity");
const { ManagedServiceIdentityClient } = require("@azure/arm-msi");
const { SecretClient } = require("@azure/keyvault-secrets");

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
  const env = process.env;
  const cred = new DefaultAzureCredential();
  await step("token", async () => (await cred.getToken("https://management.azure.com/.default")).token.length > 0);
  const msi = new ManagedServiceIdentityClient(cred, env.FEDCRED_SUBSCRIPTION_ID);
  await step("identity_get", async () => (await msi.userAssignedIdentities.get(env.FEDCRED_RG, env.FEDCRED_IDENTITY)).clientId);
  const kv = new SecretClient(env.FEDCRED_VAULT_HOST_URL, cred);
  await step("keyvault_get", async () => (await kv.getSecret(env.FEDCRED_SECRET_NAME)).value);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
