/*
 * A self-signed P-256 certificate for "kgp-test" and its key, valid
 * until 2126, for the unit tests that run TLS over a socketpair.
 */
#ifndef TESTCERT_H
#define TESTCERT_H

static const char test_key[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgO2F7GJ+ZIbyXu3U4\n"
    "hmS1krokTImlpROKqX/4UIqNDvahRANCAAT7iM1VZTAcQ+yRnlhpiBDPW42HHO++\n"
    "8sMkGkd3rOuvN4QQuaPwmPJ0q6s8Q3H1JbBoxYVGooNjz5vh1Ixl4LU4\n"
    "-----END PRIVATE KEY-----\n"
    ;
static const char test_cert[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBfjCCASOgAwIBAgIUaPjyQkKX3zy6jXFuYyyFKz+dFi4wCgYIKoZIzj0EAwIw\n"
    "EzERMA8GA1UEAwwIa2dwLXRlc3QwIBcNMjYxMTIxMjI0MTAzWhgPMjEyNjEwMjgy\n"
    "MjQxMDNaMBMxETAPBgNVBAMMCGtncC10ZXN0MFkwEwYHKoZIzj0CAQYIKoZIzj0D\n"
    "AQcDQgAE+4jNVWUwHEPskZ5YaYgQz1uNhxzvvvLDJBpHd6zrrzeEELmj8JjydKur\n"
    "PENx9SWwaMWFRqKDY8+b4dSMZeC1OKNTMFEwHQYDVR0OBBYEFBb+OuOzho98nZGt\n"
    "ViD6viwKsaLtMB8GA1UdIwQYMBaAFBb+OuOzho98nZGtViD6viwKsaLtMA8GA1Ud\n"
    "EwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSQAwRgIhAN8sAxjss1cCdSw/qzKrUm6K\n"
    "igFU17fpwgoe9Q3eIzFxAiEA5wlRqD5ybOtGvkEcgfT/SCnV/aQ99vULq6eRJuHg\n"
    "hWg=\n"
    "-----END CERTIFICATE-----\n"
    ;

#endif
