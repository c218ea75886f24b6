/*
 * Secrets created with --object secret,id=ID,data=...|file=...: looked
 * up by ID by the drivers that need a password or key.
 */
#ifndef CRYPTO_SECRET_H
#define CRYPTO_SECRET_H

/* The raw bytes of secret id (caller frees *data); -1 with errp set. */
int qcrypto_secret_lookup(const char *secretid, uint8_t **data,
                          size_t *datalen, Error **errp);
/* The secret as a NUL-terminated UTF-8 string (caller frees), or NULL. */
char *qcrypto_secret_lookup_as_utf8(const char *secretid, Error **errp);
/* The secret base64-encoded (caller frees), or NULL. */
char *qcrypto_secret_lookup_as_base64(const char *secretid, Error **errp);

#endif
