// Package federation matches a presented external assertion (its iss, sub and
// aud claims) against an identity's federated identity credentials, and says
// why when nothing matches.
//
// Matching is exact and case-sensitive on issuer, subject and audience, with
// no URL normalisation, as Entra has done since August 2024: a trailing slash
// or a change of case is a different value. A refusal carries the AADSTS code
// Entra returns for the case (700211 no credential has the issuer, 700213 no
// credential with the issuer has the subject, 7002138 the subject matches only
// case-insensitively, 700212 issuer and subject match but the audience does
// not) and, beyond Entra, which credential came closest and what differed.
//
// Disclosure rule: the issuer is compared before the assertion's signature is
// verified, so a 700211 refusal is given to a caller who has proved nothing.
// Its explanation names a credential only when its issuer is a near miss
// (trailing slash, case, whitespace), says which kind, and never quotes the
// credential's issuer, nor lets the subject or audience play any part.
// Subject and audience refusals happen after the signature has been
// verified, but for a public issuer (a CI system) anyone holds a validly
// signed token, so a credential's subject is quoted only when the presented
// one is a near miss of it. Audiences (normally api://AzureADTokenExchange)
// are quoted.
package federation
