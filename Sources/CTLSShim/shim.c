#include "CTLSShim.h"
#include <string.h>

int CTLSShim_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) { return (int)SSL_CTX_set_min_proto_version(ctx, version); }
int CTLSShim_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version) { return (int)SSL_CTX_set_max_proto_version(ctx, version); }
int CTLSShim_SSL_set_tlsext_host_name(SSL *ssl, const char *name) { return (int)SSL_set_tlsext_host_name(ssl, name); }
long CTLSShim_BIO_set_mem_eof_return(BIO *bio, int value) { return BIO_set_mem_eof_return(bio, value); }
uint64_t CTLSShim_SSL_OP_NO_RENEGOTIATION(void) { return SSL_OP_NO_RENEGOTIATION; }
uint64_t CTLSShim_SSL_OP_NO_COMPRESSION(void) { return SSL_OP_NO_COMPRESSION; }
unsigned long CTLSShim_XN_FLAG_RFC2253(void) { return XN_FLAG_RFC2253; }
int CTLSShim_SSL_CTX_get_ex_new_index(void) { return SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL); }
int CTLSShim_GENERAL_NAMES_count(const GENERAL_NAMES *names) { return sk_GENERAL_NAME_num(names); }
const GENERAL_NAME *CTLSShim_GENERAL_NAMES_value(const GENERAL_NAMES *names, int index) { return sk_GENERAL_NAME_value(names, index); }
void CTLSShim_OPENSSL_free(void *pointer) { OPENSSL_free(pointer); }
long CTLSShim_SSL_CTX_set_session_cache_mode_client(SSL_CTX *ctx) {
    return SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
}

int CTLSShim_select_alpn(const unsigned char **out, unsigned char *outlen, const unsigned char *server,
                         unsigned int serverlen, const unsigned char *client, unsigned int clientlen) {
    // Server preference order; both lists are length-prefixed strings.
    for (unsigned int i = 0; i < serverlen; i += 1u + server[i]) {
        for (unsigned int j = 0; j < clientlen; j += 1u + client[j]) {
            if (server[i] == client[j] && i + 1u + server[i] <= serverlen && j + 1u + client[j] <= clientlen &&
                memcmp(server + i + 1, client + j + 1, server[i]) == 0) {
                *out = client + j + 1;
                *outlen = client[j];
                return 1;
            }
        }
    }
    return 0;
}
