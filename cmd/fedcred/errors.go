package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/fedcred/fedcred/internal/client"
)

// describe turns a command's failure into the one line printed after
// "ERROR: ", the way az prints them: "(Code) Message" for the management
// API, "(Code) first line of the message" and the inner error's code for
// the Key Vault data plane, the message for Graph, the AADSTS description
// for the token endpoint, and for a server that cannot be reached, which
// server and what to do.
func (a *app) describe(err error) string {
	var (
		tokenErr *client.TokenError
		apiErr   *client.APIError
		vaultErr *client.VaultError
		graphErr *client.GraphError
		connErr  *client.ConnectionError
	)
	switch {
	case errors.As(err, &tokenErr):
		return oneLine(tokenErr.Summary())
	case errors.As(err, &apiErr):
		return oneLine(apiErr.Error())
	case errors.As(err, &vaultErr):
		return oneLine(vaultErr.Error())
	case errors.As(err, &graphErr):
		return oneLine(graphErr.Error())
	case errors.As(err, &connErr):
		return oneLine(connectionHint(connErr))
	case errors.Is(err, client.ErrNoCredentials):
		return oneLine(err.Error()) + ". Run 'fedcred login', or set FEDCRED_TENANT_ID, FEDCRED_CLIENT_ID and FEDCRED_CLIENT_SECRET."
	}
	return oneLine(err.Error())
}

// connectionHint says what failed and what to do about it.
func connectionHint(e *client.ConnectionError) string {
	var (
		verifyErr   *tls.CertificateVerificationError
		unknownCA   x509.UnknownAuthorityError
		hostnameErr x509.HostnameError
		invalidErr  x509.CertificateInvalidError
	)
	if errors.As(e.Err, &verifyErr) || errors.As(e.Err, &unknownCA) || errors.As(e.Err, &hostnameErr) || errors.As(e.Err, &invalidErr) {
		return fmt.Sprintf("cannot verify the TLS certificate of the fedcred server at %s: %v. "+
			"Pass --ca-file (or set FEDCRED_CA_FILE) with the CA certificate the server uses, such as ca.crt in its data directory.",
			e.Server, e.Err)
	}
	return fmt.Sprintf("cannot reach the fedcred server at %s: %v. "+
		"Start one with 'fedcred serve', or sign in to another with 'fedcred login --server URL ...'.",
		e.Server, e.Err)
}
