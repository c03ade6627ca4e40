// OpenSSL macros Swift cannot import, as real functions (one line each in shim.c).
#ifndef NETLAB_CTLSSHIM_H
#define NETLAB_CTLSSHIM_H
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdint.h>

int CTLSShim_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version);
int CTLSShim_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version);
int CTLSShim_SSL_set_tlsext_host_name(SSL *ssl, const char *name);
long CTLSShim_BIO_set_mem_eof_return(BIO *bio, int value);
uint64_t CTLSShim_SSL_OP_NO_RENEGOTIATION(void);
uint64_t CTLSShim_SSL_OP_NO_COMPRESSION(void);
unsigned long CTLSShim_XN_FLAG_RFC2253(void);
int CTLSShim_SSL_CTX_get_ex_new_index(void);
int CTLSShim_GENERAL_NAMES_count(const GENERAL_NAMES *names);
const GENERAL_NAME *CTLSShim_GENERAL_NAMES_value(const GENERAL_NAMES *names, int index);
void CTLSShim_OPENSSL_free(void *pointer);
long CTLSShim_SSL_CTX_set_session_cache_mode_client(SSL_CTX *ctx);
/// ALPN select callback helper: picks the first of `server` (wire format) that `client` offers;
/// on success points *out into the client's list (which outlives the callback).
int CTLSShim_select_alpn(const unsigned char **out, unsigned char *outlen, const unsigned char *server,
                         unsigned int serverlen, const unsigned char *client, unsigned int clientlen);
#endif
