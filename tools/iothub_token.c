
/*
 * iothub-token: prints a SAS token for a connection string, for scripts,
 * tests and operators (curl, mosquitto_pub):
 *
 *     iothub-token "HostName=...;SharedAccessKeyName=...;SharedAccessKey=..."
 *     iothub-token "HostName=...;DeviceId=d1;SharedAccessKey=..." [ttl]
 *
 * A policy connection string signs the hub (sr = host); a device or module
 * one signs its identity.  ttl in seconds, default 3600.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ngx_iothub_sas.h"


static int iothub_token_resource(char *out, size_t size,
    const ngx_iothub_connstr_t *cs);


int
main(int argc, char **argv)
{
    int                      rc;
    char                     resource[600], token[2048];
    long                     ttl;
    ngx_iothub_connstr_t     cs;

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: iothub-token <connection string> [ttl]\n");
        return 2;
    }

    rc = ngx_iothub_connstr_parse(&cs, argv[1], strlen(argv[1]));
    if (rc != NGX_IOTHUB_CONNSTR_OK || cs.key[0] == '\0') {
        fprintf(stderr, "iothub-token: not a connection string with "
                        "SharedAccessKey (error %d)\n", rc);
        return 1;
    }

    ttl = (argc == 3) ? strtol(argv[2], NULL, 10) : 3600;
    if (ttl <= 0) {
        fprintf(stderr, "iothub-token: ttl must be a positive number\n");
        return 2;
    }

    if (iothub_token_resource(resource, sizeof(resource), &cs) != 0
        || ngx_iothub_sas_make(token, sizeof(token), resource, cs.key,
                               cs.key_name[0] ? cs.key_name : NULL,
                               (long long) time(NULL) + ttl) < 0)
    {
        fprintf(stderr, "iothub-token: cannot sign (bad key?)\n");
        return 1;
    }

    printf("%s\n", token);

    return 0;
}


static int
iothub_token_resource(char *out, size_t size, const ngx_iothub_connstr_t *cs)
{
    int  n;

    if (cs->device_id[0] == '\0') {
        n = snprintf(out, size, "%s", cs->host_name);

    } else if (cs->module_id[0] == '\0') {
        n = snprintf(out, size, "%s/devices/%s", cs->host_name,
                     cs->device_id);

    } else {
        n = snprintf(out, size, "%s/devices/%s/modules/%s", cs->host_name,
                     cs->device_id, cs->module_id);
    }

    return (n < 0 || (size_t) n >= size) ? -1 : 0;
}
