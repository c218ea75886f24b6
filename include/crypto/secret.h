/*
 * Secrets defined with "--object secret,id=ID,data=...|file=...[,format=]".
 */
#ifndef CRYPTO_SECRET_H
#define CRYPTO_SECRET_H

/*
 * The bytes of the secret called secretid (a NUL is appended that does not
 * count in *datalen; free *data with g_free).  Returns 0, or -1 with errp
 * set to "No secret with id '<id>'".
 */
int qcrypto_secret_lookup(const char *secretid, uint8_t **data,
                          size_t *datalen, Error **errp);
/* The secret as a string; it must be valid UTF-8.  NULL on error. */
char *qcrypto_secret_lookup_as_utf8(const char *secretid, Error **errp);
/* The secret base64-encoded.  NULL on error. */
char *qcrypto_secret_lookup_as_base64(const char *secretid, Error **errp);

#endif
