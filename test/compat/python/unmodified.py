"""An unmodified Python program, as people write it for Entra Workload ID.

DefaultAzureCredential with no options, the public management endpoint, the
vault's own host, and raw MSAL with its default instance discovery. Run by
test/compat/emulate_test.go under `fedcred run --emulate-login-host`, which
routes the public hosts to fedcred. Each step prints one JSON line.
"""

import json
import os
import sys
import traceback


def step(name, fn):
    try:
        print(json.dumps({"step": name, "ok": True, "detail": fn()}), flush=True)
    except Exception as e:  # every failure is reported, none stops the run
        print(json.dumps({"step": name, "ok": False, "error": "%s: %s" % (type(e).__name__, e)}), flush=True)
        traceback.print_exc(file=sys.stderr)


def main():
    from azure.identity import DefaultAzureCredential
    from azure.keyvault.secrets import SecretClient
    from azure.mgmt.msi import ManagedServiceIdentityClient
    import msal

    env = os.environ
    cred = DefaultAzureCredential()
    step("token", lambda: len(cred.get_token("https://management.azure.com/.default").token) > 0)
    msi = ManagedServiceIdentityClient(cred, env["FEDCRED_SUBSCRIPTION_ID"], api_version="2022-01-31-preview")
    step("identity_get", lambda: msi.user_assigned_identities.get(env["FEDCRED_RG"], env["FEDCRED_IDENTITY"]).client_id)
    kv = SecretClient(env["FEDCRED_VAULT_HOST_URL"], cred)
    step("keyvault_get", lambda: kv.get_secret(env["FEDCRED_SECRET_NAME"]).value)

    def raw_msal():
        with open(env["AZURE_FEDERATED_TOKEN_FILE"]) as f:
            assertion = f.read().strip()
        app = msal.ConfidentialClientApplication(
            env["AZURE_CLIENT_ID"], client_credential={"client_assertion": assertion},
            authority=env["AZURE_AUTHORITY_HOST"].rstrip("/") + "/" + env["AZURE_TENANT_ID"])
        res = app.acquire_token_for_client(scopes=["https://vault.azure.net/.default"])
        if "access_token" not in res:
            raise RuntimeError("%s: %s" % (res.get("error"), res.get("error_description")))
        return res["token_type"]
    step("msal", raw_msal)


if __name__ == "__main__":
    main()
