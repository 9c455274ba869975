"""fedcred compatibility scenario for Debian's python3-azure and python3-msal.

Run by test/compat/python_test.go with /usr/bin/python3 (the interpreter that
sees Debian's dist-packages). Each step prints one JSON line:
{"step": ..., "ok": true|false, "error": ..., "detail": ...}; the Go test
decides what must pass. The environment carries the workload-identity
variables (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE,
AZURE_AUTHORITY_HOST), REQUESTS_CA_BUNDLE and the FEDCRED_* fixture values.
"""

import json
import os
import sys
import traceback

ARM_SCOPE = "https://management.core.windows.net//.default"
VAULT_SCOPE = "https://vault.azure.net/.default"
MSI_API = "2022-01-31-preview"

env = os.environ


def step(name, fn):
    try:
        detail = fn()
        print(json.dumps({"step": name, "ok": True, "detail": detail}), flush=True)
    except Exception as e:  # every failure is reported, none stops the run
        msg = "%s: %s" % (type(e).__name__, e)
        print(json.dumps({"step": name, "ok": False, "error": msg}), flush=True)
        traceback.print_exc(file=sys.stderr)


def read(path):
    with open(path) as f:
        return f.read().strip()


def main():
    from azure.identity import (ClientAssertionCredential, DefaultAzureCredential,
                                ManagedIdentityCredential)
    from azure.keyvault.secrets import SecretClient
    from azure.mgmt.msi import ManagedServiceIdentityClient
    from azure.mgmt.msi.v2022_01_31_preview import models
    import msal

    tenant, client_id = env["AZURE_TENANT_ID"], env["AZURE_CLIENT_ID"]
    token_file = env["AZURE_FEDERATED_TOKEN_FILE"]
    server = env["FEDCRED_URL"]

    # Token exchange: azure.identity 1.13.0b2 has no WorkloadIdentityCredential;
    # DefaultAzureCredential and ManagedIdentityCredential reach the workload
    # identity token exchange from the environment.
    default = DefaultAzureCredential()
    step("default_credential", lambda: {"expires_on": default.get_token(ARM_SCOPE).expires_on})
    mi = ManagedIdentityCredential()
    step("managed_identity_credential", lambda: {"len": len(mi.get_token(VAULT_SCOPE).token)})
    # The authority comes from AZURE_AUTHORITY_HOST: this version's
    # ClientAssertionCredential fails on any keyword argument.
    assertion = ClientAssertionCredential(tenant, client_id, lambda: read(token_file))
    step("client_assertion_credential", lambda: {"len": len(assertion.get_token(ARM_SCOPE).token)})

    def raw_msal(instance_discovery):
        def run():
            kwargs = {"instance_discovery": False} if not instance_discovery else {}
            app = msal.ConfidentialClientApplication(
                client_id, client_credential={"client_assertion": read(token_file)},
                authority=server + "/" + tenant, **kwargs)
            res = app.acquire_token_for_client(scopes=[ARM_SCOPE])
            if "access_token" not in res:
                raise RuntimeError("%s: %s" % (res.get("error"), res.get("error_description")))
            return {"token_type": res.get("token_type"), "expires_in": res.get("expires_in")}
        return run
    step("msal_instance_discovery_false", raw_msal(False))
    # MSAL's default sends instance discovery to login.microsoftonline.com
    # (dropping the port); the login proxy routes it to fedcred.
    step("msal_instance_discovery_via_proxy", raw_msal(True))

    # Management: the identity is Managed Identity Contributor on the group.
    rg = env["FEDCRED_RG"]
    msi = ManagedServiceIdentityClient(default, env["FEDCRED_SUBSCRIPTION_ID"], base_url=server,
                                       credential_scopes=[ARM_SCOPE], api_version=MSI_API)
    step("identity_create", lambda: msi.user_assigned_identities.create_or_update(
        rg, "py-made", models.Identity(location="eastus", tags={"made-by": "python"})).client_id)
    step("identity_get", lambda: msi.user_assigned_identities.get(rg, "py-made").principal_id)
    step("identity_list", lambda: sorted(i.name for i in msi.user_assigned_identities.list_by_resource_group(rg)))
    fic = models.FederatedIdentityCredential(issuer=env["FEDCRED_ISSUER"], subject="system:serviceaccount:py:made",
                                             audiences=["api://AzureADTokenExchange"])
    step("fic_create", lambda: msi.federated_identity_credentials.create_or_update(rg, "py-made", "py-fic", fic).subject)
    step("fic_get", lambda: msi.federated_identity_credentials.get(rg, "py-made", "py-fic").issuer)
    for i in range(3):
        extra = models.FederatedIdentityCredential(issuer=env["FEDCRED_ISSUER"], subject="system:serviceaccount:py:x%d" % i,
                                                   audiences=["api://AzureADTokenExchange"])
        msi.federated_identity_credentials.create_or_update(rg, "py-made", "py-fic-%d" % i, extra)
    step("fic_list_paged", lambda: sorted(f.name for f in msi.federated_identity_credentials.list(rg, "py-made", top=2)))
    step("fic_delete", lambda: msi.federated_identity_credentials.delete(rg, "py-made", "py-fic"))

    def fic_gone():
        from azure.core.exceptions import ResourceNotFoundError
        try:
            msi.federated_identity_credentials.get(rg, "py-made", "py-fic")
        except ResourceNotFoundError as e:
            return str(e.error.code if e.error else e)
        raise RuntimeError("the deleted federated credential is still there")
    step("fic_get_deleted", fic_gone)
    step("identity_delete", lambda: msi.user_assigned_identities.delete(rg, "py-made"))

    # Key Vault: path-based vault URL with the challenge check off, then the
    # vault's own host through the login proxy with the check on.
    name = env["FEDCRED_SECRET_NAME"]
    kv = SecretClient(env["FEDCRED_VAULT_URL"], default, verify_challenge_resource=False)
    step("keyvault_get", lambda: kv.get_secret(name).value)
    kv_host = SecretClient(env["FEDCRED_VAULT_HOST_URL"], default)
    step("keyvault_get_by_host", lambda: kv_host.get_secret(name).value)

    # A token for another service account: Entra's AADSTS700213.
    wrong = ClientAssertionCredential(tenant, client_id, lambda: read(env["FEDCRED_WRONG_TOKEN_FILE"]))
    step("wrong_fic", lambda: wrong.get_token(ARM_SCOPE).token[:0])


if __name__ == "__main__":
    main()
