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
// Its explanation therefore names the closest credential and the kind of
// difference (trailing slash, case, whitespace) but never the credential's
// issuer value. Subject and audience refusals happen after the signature has
// been verified against a trusted issuer's keys, and may quote the
// credential's subject or audience.
package federation
